//! Writes a seat's provisioning block (seat id + key) to a file, for `probe-rs download` on a
//! real board or QEMU's `-device loader` (see `firmware/README.md`).
//!
//! ```sh
//! cargo run -p hemiwatch-firmware --example provision -- <seat> <32 hex digits key> <out.bin>
//! ```
//!
//! The key is the same hex string as the seat's `key` in the daemon's config.

use hemiwatch_firmware::provision::Provision;
use hemiwatch_protocol::SeatKey;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [seat, key, out] = args.as_slice() else {
        eprintln!("usage: provision <seat 1..65535> <key: 32 hex digits> <out.bin>");
        std::process::exit(2);
    };
    let seat: u16 = match seat.parse() {
        Ok(s) if s > 0 => s,
        _ => fail("seat must be 1..65535"),
    };
    if key.len() != 32 || !key.bytes().all(|b| b.is_ascii_hexdigit()) {
        fail("key must be 32 hex digits (128 bits)");
    }
    let mut k = [0u8; 16];
    for (i, byte) in k.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&key[2 * i..2 * i + 2], 16).unwrap_or_else(|_| fail("bad hex"));
    }
    let block = Provision {
        seat,
        key: SeatKey(k),
    }
    .encode();
    std::fs::write(out, block).unwrap_or_else(|e| fail(&format!("{out}: {e}")));
    println!(
        "{out}: provisioning block for seat {seat} ({} bytes)",
        block.len()
    );
}

fn fail(msg: &str) -> ! {
    eprintln!("provision: {msg}");
    std::process::exit(2);
}
