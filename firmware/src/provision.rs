//! The provisioning block: who this seat is (seat id) and its 128-bit key, stored in a flash page
//! of its own so one firmware image serves all 577 seats and a key is written once per board.
//!
//! Layout (32 bytes, little-endian, at the start of the board's reserved flash page):
//!
//! ```text
//! offset size field
//!      0    4 magic    "HWPB"
//!      4    1 version  1
//!      5    1 reserved 0
//!      6    2 seat id  u16 LE (1..=65535; 0 is invalid)
//!      8   16 key      AES-128 key, as the host config's `key` in hex
//!     24    4 crc32    CRC-32/ISO-HDLC (zlib's crc32) of bytes 0..24, LE
//!     28    4 reserved 0xFF (erased flash)
//! ```
//!
//! Erased flash (all `0xFF`) fails the magic check, a torn write fails the CRC: either way the
//! board knows it is unprovisioned instead of running with a garbage key.

use hemiwatch_protocol::{demo_key, SeatId, SeatKey};

/// Size of the block in flash.
pub const BLOCK_LEN: usize = 32;
/// First bytes of a provisioning block.
pub const MAGIC: [u8; 4] = *b"HWPB";
/// Layout version this firmware reads.
pub const VERSION: u8 = 1;

const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);

/// A valid provisioning block: the seat's identity and key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Provision {
    /// The seat's number on the wire and in the host config.
    pub seat: SeatId,
    /// The seat's secret key.
    pub key: SeatKey,
}

/// Why a block was not accepted.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ProvisionError {
    /// Fewer than [`BLOCK_LEN`] bytes.
    TooShort,
    /// No magic: erased or never written.
    Blank,
    /// A layout version this firmware does not know.
    Version(u8),
    /// The CRC does not match: a torn or corrupted write.
    Crc,
    /// Seat 0 is not a seat.
    BadSeat,
}

impl Provision {
    /// Parses a block read from flash.
    pub fn parse(bytes: &[u8]) -> Result<Self, ProvisionError> {
        let b: &[u8; BLOCK_LEN] = bytes
            .get(..BLOCK_LEN)
            .and_then(|s| s.try_into().ok())
            .ok_or(ProvisionError::TooShort)?;
        if b[0..4] != MAGIC {
            return Err(ProvisionError::Blank);
        }
        if b[4] != VERSION {
            return Err(ProvisionError::Version(b[4]));
        }
        let crc = u32::from_le_bytes([b[24], b[25], b[26], b[27]]);
        if CRC32.checksum(&b[..24]) != crc {
            return Err(ProvisionError::Crc);
        }
        let seat = u16::from_le_bytes([b[6], b[7]]);
        if seat == 0 {
            return Err(ProvisionError::BadSeat);
        }
        let mut key = [0u8; 16];
        key.copy_from_slice(&b[8..24]);
        Ok(Self {
            seat,
            key: SeatKey(key),
        })
    }

    /// The block to write to flash for this seat (used by the provisioning tool and the QEMU rig).
    pub fn encode(&self) -> [u8; BLOCK_LEN] {
        let mut b = [0xFFu8; BLOCK_LEN];
        b[0..4].copy_from_slice(&MAGIC);
        b[4] = VERSION;
        b[5] = 0;
        b[6..8].copy_from_slice(&self.seat.to_le_bytes());
        b[8..24].copy_from_slice(&self.key.0);
        let crc = CRC32.checksum(&b[..24]);
        b[24..28].copy_from_slice(&crc.to_le_bytes());
        b
    }
}

/// The seat an unprovisioned board falls back to, so a fresh board is visible on the bench.
pub const FALLBACK_SEAT: SeatId = 1;

/// Reads the block, or falls back to seat [`FALLBACK_SEAT`] with its public demo key
/// ([`hemiwatch_protocol::demo_key`], the one a daemon with `keys = "demo"` expects). The `bool` is
/// true when the block was valid; a board logs the error and the seat reports `UNPROVISIONED`.
pub fn load_or_fallback(bytes: &[u8]) -> (Provision, Result<(), ProvisionError>) {
    match Provision::parse(bytes) {
        Ok(p) => (p, Ok(())),
        Err(e) => (
            Provision {
                seat: FALLBACK_SEAT,
                key: demo_key(FALLBACK_SEAT),
            },
            Err(e),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Provision {
        Provision {
            seat: 312,
            key: SeatKey(*b"0123456789abcdef"),
        }
    }

    #[test]
    fn round_trips_and_has_the_documented_layout() {
        let b = sample().encode();
        assert_eq!(&b[0..4], b"HWPB");
        assert_eq!(b[4], 1);
        assert_eq!(&b[6..8], &312u16.to_le_bytes());
        assert_eq!(&b[8..24], b"0123456789abcdef");
        // zlib's crc32 of the first 24 bytes, so any tool can write a block.
        assert_eq!(
            u32::from_le_bytes(b[24..28].try_into().unwrap()),
            CRC32.checksum(&b[..24])
        );
        assert_eq!(
            CRC32.checksum(b"123456789"),
            0xCBF4_3926,
            "CRC-32/ISO-HDLC check value"
        );
        assert_eq!(&b[28..], &[0xFF; 4]);
        assert_eq!(Provision::parse(&b), Ok(sample()));
    }

    #[test]
    fn rejects_erased_short_corrupt_and_foreign_blocks() {
        assert_eq!(Provision::parse(&[0xFF; 32]), Err(ProvisionError::Blank));
        assert_eq!(Provision::parse(&[0xFF; 31]), Err(ProvisionError::TooShort));
        let good = sample().encode();
        for i in 6..24 {
            let mut b = good;
            b[i] ^= 0x01;
            assert_eq!(Provision::parse(&b), Err(ProvisionError::Crc), "bit flip at {i}");
        }
        let mut v2 = good;
        v2[4] = 2;
        assert_eq!(Provision::parse(&v2), Err(ProvisionError::Version(2)));
        let zero = Provision {
            seat: 0,
            key: SeatKey([7; 16]),
        }
        .encode();
        assert_eq!(Provision::parse(&zero), Err(ProvisionError::BadSeat));
    }

    #[test]
    fn unprovisioned_falls_back_to_seat_1_with_the_hosts_demo_key() {
        let (p, status) = load_or_fallback(&[0xFF; 32]);
        assert_eq!(status, Err(ProvisionError::Blank));
        assert_eq!(p.seat, FALLBACK_SEAT);
        assert_eq!(p.key, demo_key(1));
        assert_ne!(demo_key(1), demo_key(2));
        let (p, status) = load_or_fallback(&sample().encode());
        assert_eq!((p, status), (sample(), Ok(())));
    }
}
