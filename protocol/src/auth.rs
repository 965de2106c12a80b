//! Frame authentication: AES-128-CMAC (RFC 4493) truncated to 64 bits, over the frame bytes and
//! a freshness context the wire does not carry in full (session nonce and 32-bit frame counter).
//!
//! The scheme follows AUTOSAR SecOC: a truncated freshness value on the wire (here 4 bits), the
//! full value reconstructed by the receiver and bound into the MAC, so a frame verifies only under
//! the one session and counter it was sent with.

use aes::Aes128;
use cmac::{Cmac, Mac};
use subtle::ConstantTimeEq;

use crate::frame::MAC_LEN;

/// Domain separation: a Hemiwatch v1 MAC can never be confused with another use of the same key.
const DOMAIN: &[u8; 4] = b"HWv1";

/// A seat's 128-bit secret key, shared only by that seat's provisioning block and the host config.
/// It never crosses the wire; `Debug` does not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct SeatKey(pub [u8; 16]);

impl core::fmt::Debug for SeatKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("SeatKey(<redacted>)")
    }
}

/// A key with its AES key schedule and CMAC subkeys expanded once and reset after each tag: on the
/// host this makes the MAC 2 AES blocks per frame instead of a key expansion, a subkey derivation
/// and a 200-byte state copy (measured by `cargo bench -p hemiwatch-protocol`).
#[derive(Clone)]
pub struct Authenticator {
    mac: Cmac<Aes128>,
    /// CMACs computed so far (wrapping): what a rejected frame cost, for tests and benches.
    computed: u32,
}

impl core::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Authenticator(<redacted>)")
    }
}

impl Authenticator {
    /// Expands `key`.
    pub fn new(key: &SeatKey) -> Self {
        Self {
            mac: <Cmac<Aes128> as cmac::digest::KeyInit>::new(&key.0.into()),
            computed: 0,
        }
    }

    /// The truncated tag of `signed` under (`nonce`, `counter`).
    pub fn tag(&mut self, nonce: u64, counter: u32, signed: &[u8]) -> [u8; MAC_LEN] {
        // First block: domain (4) + nonce (8) + counter (4) = exactly one AES block.
        self.truncated_cmac_of(&[DOMAIN, &nonce.to_le_bytes(), &counter.to_le_bytes(), signed])
    }

    /// AES-128-CMAC (RFC 4493) of `message` alone, truncated to its first [`MAC_LEN`] bytes: the
    /// primitive under [`Self::tag`] without the domain and freshness prefix. Public only so that
    /// `tests/known_answers.rs` can check it against RFC 4493's test vectors; frames are
    /// authenticated with [`Self::tag`] and [`Self::verify`], never with this.
    pub fn truncated_cmac(&mut self, message: &[u8]) -> [u8; MAC_LEN] {
        self.truncated_cmac_of(&[message])
    }

    /// The truncated CMAC of the concatenation of `parts`; shared by [`Self::tag`] and
    /// [`Self::truncated_cmac`] so the known-answer tests exercise the truncation frames use.
    fn truncated_cmac_of(&mut self, parts: &[&[u8]]) -> [u8; MAC_LEN] {
        for part in parts {
            self.mac.update(part);
        }
        self.computed = self.computed.wrapping_add(1);
        let full = self.mac.finalize_reset().into_bytes();
        let mut tag = [0u8; MAC_LEN];
        tag.copy_from_slice(&full[..MAC_LEN]);
        tag
    }

    /// CMACs computed with this key so far (wrapping): the work frames cost.
    pub const fn computed(&self) -> u32 {
        self.computed
    }

    /// Constant-time check of a truncated tag.
    pub fn verify(&mut self, nonce: u64, counter: u32, signed: &[u8], tag: &[u8; MAC_LEN]) -> bool {
        self.tag(nonce, counter, signed).ct_eq(tag).into()
    }
}
