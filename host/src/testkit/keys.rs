//! Seat keys for tests: one derivation for every test, so a simulated seat, a QEMU seat, a
//! config file and an in-process daemon agree on a seat's key without passing it around.

use hemiwatch_protocol::{SeatId, SeatKey};

/// The key seat `id` signs with in tests: the public demo derivation, the one `hemiwatch sim`
/// and an unprovisioned firmware use, so any seat started by any test verifies with it.
pub fn seat_key(id: SeatId) -> SeatKey {
    hemiwatch_protocol::demo_key(id)
}

/// A key as config files hold it (32 lowercase hex digits), for tests that write TOML.
pub fn key_hex(key: &SeatKey) -> String {
    key.0.iter().map(|b| format!("{b:02x}")).collect()
}
