//! Issue 12, item 6: what a forged frame costs the host. Every try of a counter is one CMAC; a
//! forgery fails them all, so the link's search windows are the cost. Measured here at the worst
//! case — an open session, two answered ones and four retired ones — in CMACs per frame (the
//! rate is in `benches/forgery.rs`).

use hemiwatch_protocol::link::MAX_CMACS_PER_FRAME;
use hemiwatch_protocol::*;

const KEY: SeatKey = SeatKey([0x33; 16]);

fn hello() -> Message {
    Message::Hello(Hello::simulated(500))
}

fn accept(host: &mut HostLink, wire: &[u8]) -> Result<Verified, AuthError> {
    let mut dec = FrameDecoder::<MAX_WIRE>::new();
    let mut r = None;
    dec.feed(wire, |f| r = Some(host.accept(&f.expect("frame"))));
    r.expect("one frame")
}

/// A host link with its slots full: sessions of five boots (four retired, one open, 300 frames each), and two
/// answered `Hello`s of a sixth and a seventh never confirmed.
fn busy_link() -> HostLink {
    let mut host = HostLink::new(9, Some(&KEY));
    let mut buf = [0u8; MAX_WIRE];
    let mut out = [0u8; MAX_WIRE];
    for boot in 1..=7u32 {
        let mut seat = SeatLink::new(9, &KEY, boot);
        let v = accept(&mut host, seat.encode(&hello(), &mut buf).unwrap()).unwrap();
        let Message::Hello(h) = v.message else { panic!() };
        let answer = host
            .respond_to_hello(&h, u64::from(boot) * 1000, &mut out)
            .unwrap()
            .to_vec();
        if boot <= 5 {
            let mut dec = FrameDecoder::<MAX_WIRE>::new();
            dec.feed(&answer, |f| {
                seat.accept(&f.unwrap()).unwrap();
            });
            for _ in 0..300 {
                let t = seat
                    .encode(&Message::Telemetry(Telemetry::default()), &mut buf)
                    .unwrap()
                    .to_vec();
                accept(&mut host, &t).unwrap();
            }
        }
    }
    host
}

#[test]
fn a_forged_frame_costs_at_most_68_cmacs_down_from_176() {
    let mut host = busy_link();
    // An impostor without the key: its own session, its own counters, the seat's address.
    let mut impostor = SeatLink::new(9, &SeatKey([0xEE; 16]), 1);
    let mut impostor_host = HostLink::new(9, Some(&SeatKey([0xEE; 16])));
    let mut buf = [0u8; MAX_WIRE];
    let mut out = [0u8; MAX_WIRE];
    let v = accept(&mut impostor_host, impostor.encode(&hello(), &mut buf).unwrap()).unwrap();
    let Message::Hello(h) = v.message else { panic!() };
    let answer = impostor_host.respond_to_hello(&h, 5, &mut out).unwrap().to_vec();
    let mut dec = FrameDecoder::<MAX_WIRE>::new();
    dec.feed(&answer, |f| {
        impostor.accept(&f.unwrap()).unwrap();
    });
    let mut worst = 0;
    for _ in 0..64 {
        let forged = impostor
            .encode(&Message::Telemetry(Telemetry::default()), &mut buf)
            .unwrap()
            .to_vec();
        let before = host.cmacs_computed();
        assert_eq!(accept(&mut host, &forged).unwrap_err(), AuthError::BadMac);
        worst = worst.max(host.cmacs_computed().wrapping_sub(before));
    }
    assert!(worst <= 68, "a forged frame cost {worst} CMACs");
    assert_eq!(
        worst, MAX_CMACS_PER_FRAME,
        "the worst case is reached and is the documented bound"
    );
}
