//! Demo key material — **public on purpose**.
//!
//! `hemiwatch demo`, `hemiwatch sim`, the test rigs and an unprovisioned board must all talk to
//! each other with no key files, so every demo seat's key is derived from one master secret that
//! is printed right here. Anyone can compute these keys: a daemon running with `keys = "demo"`
//! warns about it, and a board that falls back to its demo key flags itself `UNPROVISIONED`.
//! A real installation provisions every seat with its own random key.
//!
//! This is the only home of the derivation: the firmware's provisioning fallback and the host's
//! simulator both call [`demo_key`], so the two ends cannot derive different bytes.

use crate::{Authenticator, SeatId, SeatKey};

/// The demo's master secret (public, see the module docs).
pub const DEMO_MASTER: SeatKey = SeatKey(*b"hemiwatch-demo!!");

/// Label of the derivation, so a demo key can never equal a tag computed for another purpose.
const LABEL: &[u8] = b"hemiwatch demo seat key";

/// The public demo key of `seat`: AES-CMAC under [`DEMO_MASTER`] used as a PRF, two 64-bit tags
/// under distinct counters (NIST SP 800-108 counter-mode style). For demos and tests only.
pub fn demo_key(seat: SeatId) -> SeatKey {
    let mut prf = Authenticator::new(&DEMO_MASTER);
    let mut key = [0u8; 16];
    key[..8].copy_from_slice(&prf.tag(1, u32::from(seat), LABEL));
    key[8..].copy_from_slice(&prf.tag(2, u32::from(seat), LABEL));
    SeatKey(key)
}
