//! Fuzzes the receive path a hostile serial line reaches: the streaming frame decoder fed in
//! fuzzer-chosen chunks, then both ends' link verification of whatever decoded.
#![no_main]

use hemiwatch_protocol::{FrameDecoder, HostLink, SeatKey, SeatLink, MAX_WIRE};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the chunk size, so chunk boundaries are explored too.
    let Some((&chunk, rest)) = data.split_first() else { return };
    let chunk = usize::from(chunk).max(1);
    let key = SeatKey([0x42; 16]);
    let mut dec = FrameDecoder::<MAX_WIRE>::new();
    let mut host = HostLink::new(577, Some(&key));
    let mut open = HostLink::new(577, None);
    let mut seat = SeatLink::new(577, &key, 1);
    for part in rest.chunks(chunk) {
        dec.feed(part, |r| {
            if let Ok(f) = r {
                let _ = f.message();
                let _ = host.accept(&f);
                let _ = open.accept(&f);
                let _ = seat.accept(&f);
            }
        });
    }
});
