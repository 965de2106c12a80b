//! Frame layout, COBS framing with CRC, and the streaming decoder.
//!
//! ```text
//! body  = hdr:u8 | addr:varint | payload (postcard) | [mac: 8 bytes, if authenticated] | crc:u16 LE
//! hdr   = version:3 (bits 7..5) | authenticated:1 (bit 4) | counter low nibble:4 (bits 3..0)
//! addr  = (seat << 4) | kind      — postcard varint: 2 bytes for seats 8..1023
//! crc   = CRC-16/IBM-SDLC (the X.25 FCS, also MAVLink's checksum) over everything before it
//! wire  = COBS(body) | 0x00
//! ```
//!
//! Invariants across major versions: the version is the top 3 bits of the first byte and the
//! trailer is a CRC-16/IBM-SDLC. A frame with a good CRC and another major version is reported as
//! [`FrameError::UnknownVersion`], never parsed with this version's layout.

use crate::message::{Message, MessageKind};
use crate::SeatId;

/// Major protocol version carried in every frame header.
pub const PROTOCOL_MAJOR: u8 = 1;
/// Minor protocol version announced in `Hello`; minor bumps only add message kinds or fault codes.
pub const PROTOCOL_MINOR: u8 = 0;
/// Bytes of the truncated CMAC tag on authenticated frames: 64 bits, so an online forgery needs
/// ~2^63 attempts, far beyond what a 115200-baud line can carry in the life of a parliament.
pub const MAC_LEN: usize = 8;
/// Longest decoded frame body accepted. The largest message (`Hello`) takes ~33 bytes; the margin
/// leaves room for minor-version additions while bounding the decoder's RAM.
pub const MAX_BODY: usize = 64;
/// Longest frame on the wire: COBS adds one byte per 254 (one here) plus the delimiter.
pub const MAX_WIRE: usize = MAX_BODY + 2;

const CRC: crc::Crc<u16> = crc::Crc::<u16>::new(&crc::CRC_16_IBM_SDLC);
const HDR_AUTH: u8 = 0x10;

/// Why bytes from the wire are not a frame. Each variant is counted separately by the host.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum FrameError {
    /// The bytes between two delimiters are not valid COBS (line noise, a truncated frame).
    BadCobs,
    /// The CRC does not match (line noise).
    BadCrc,
    /// More bytes than [`MAX_WIRE`] arrived without a delimiter: skipped up to the next one.
    TooLong,
    /// Fewer bytes than the smallest frame.
    TooShort,
    /// A good CRC but a major version this build does not speak.
    UnknownVersion(u8),
    /// A message kind this version does not define.
    UnknownKind(u8),
    /// The address field is not a valid varint or names a seat beyond `u16`.
    BadAddress,
    /// The payload does not decode as the kind's struct.
    BadPayload,
}

impl FrameError {
    /// Stable name for counters and logs.
    pub const fn name(self) -> &'static str {
        match self {
            Self::BadCobs => "bad_cobs",
            Self::BadCrc => "bad_crc",
            Self::TooLong => "too_long",
            Self::TooShort => "too_short",
            Self::UnknownVersion(_) => "unknown_version",
            Self::UnknownKind(_) => "unknown_kind",
            Self::BadAddress => "bad_address",
            Self::BadPayload => "bad_payload",
        }
    }
}

impl core::fmt::Display for FrameError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::BadCobs => f.write_str("bad COBS encoding"),
            Self::BadCrc => f.write_str("CRC mismatch"),
            Self::TooLong => write!(f, "frame longer than {MAX_WIRE} bytes"),
            Self::TooShort => f.write_str("frame too short"),
            Self::UnknownVersion(v) => write!(f, "unknown protocol major version {v}"),
            Self::UnknownKind(k) => write!(f, "unknown message kind {k}"),
            Self::BadAddress => f.write_str("bad address field"),
            Self::BadPayload => f.write_str("payload does not decode"),
        }
    }
}

/// Why a frame could not be built.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum EncodeError {
    /// The message does not fit [`MAX_BODY`] or the output buffer is smaller than [`MAX_WIRE`].
    BufferTooSmall,
    /// The seat link has no session yet: only `Hello` may be sent (see [`crate::link`]).
    NoSession,
    /// The message travels the other way (e.g. a seat encoding `Failover`).
    WrongDirection,
}

impl core::fmt::Display for EncodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::BufferTooSmall => "frame does not fit the buffer",
            Self::NoSession => "no session established yet",
            Self::WrongDirection => "message kind belongs to the other direction",
        })
    }
}

/// The fixed fields at the front of every frame.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Header {
    /// Seat the frame comes from (uplink) or goes to (downlink).
    pub seat: SeatId,
    /// Message kind.
    pub kind: MessageKind,
    /// Whether a MAC trailer is present.
    pub authenticated: bool,
    /// Low 4 bits of the sender's frame counter (the truncated freshness value).
    pub counter_low: u8,
}

/// A frame whose CRC, version and layout are valid, not yet authenticated.
#[derive(Copy, Clone, Debug)]
pub struct RawFrame<'a> {
    /// Parsed header.
    pub header: Header,
    /// Bytes the MAC covers (header, address and payload).
    pub signed: &'a [u8],
    /// The postcard payload.
    pub payload: &'a [u8],
    /// The MAC trailer, on authenticated frames.
    pub mac: Option<[u8; MAC_LEN]>,
}

impl RawFrame<'_> {
    /// Decodes the payload. Meaningful for anything but display only after the link verified it.
    pub fn message(&self) -> Result<Message, FrameError> {
        Message::decode_payload(self.header.kind, self.payload).map_err(|_| FrameError::BadPayload)
    }

    /// Copies the frame out of the decoder's buffer, e.g. to hand it to another task.
    pub fn to_owned(&self) -> OwnedFrame {
        let mut signed = heapless::Vec::new();
        // Cannot fail: a parsed frame's signed part is shorter than MAX_BODY.
        let _ = signed.extend_from_slice(self.signed);
        OwnedFrame {
            header: self.header,
            signed,
            payload_start: (self.signed.len() - self.payload.len()) as u8,
            mac: self.mac,
        }
    }
}

/// A [`RawFrame`] that owns its bytes (at most [`MAX_BODY`], no heap).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OwnedFrame {
    header: Header,
    signed: heapless::Vec<u8, MAX_BODY>,
    payload_start: u8,
    mac: Option<[u8; MAC_LEN]>,
}

impl OwnedFrame {
    /// Borrows it back as a [`RawFrame`] for verification and decoding.
    pub fn as_raw(&self) -> RawFrame<'_> {
        RawFrame {
            header: self.header,
            signed: &self.signed,
            payload: self.signed.get(usize::from(self.payload_start)..).unwrap_or(&[]),
            mac: self.mac,
        }
    }
}

/// Parses a COBS-decoded frame body: CRC, version, header, address, trailer split.
pub fn parse_body(body: &[u8]) -> Result<RawFrame<'_>, FrameError> {
    // hdr + 1-byte address + CRC is the smallest possible frame (an empty payload).
    if body.len() < 4 {
        return Err(FrameError::TooShort);
    }
    let (covered, crc_bytes) = body.split_at(body.len() - 2);
    let crc = u16::from_le_bytes([crc_bytes[0], crc_bytes[1]]);
    if CRC.checksum(covered) != crc {
        return Err(FrameError::BadCrc);
    }
    let hdr = covered[0];
    let version = hdr >> 5;
    if version != PROTOCOL_MAJOR {
        return Err(FrameError::UnknownVersion(version));
    }
    let authenticated = hdr & HDR_AUTH != 0;
    let (addr, after_addr) =
        postcard::take_from_bytes::<u32>(&covered[1..]).map_err(|_| FrameError::BadAddress)?;
    let seat = SeatId::try_from(addr >> 4).map_err(|_| FrameError::BadAddress)?;
    let kind_bits = (addr & 0xF) as u8;
    let kind = MessageKind::from_bits(kind_bits).ok_or(FrameError::UnknownKind(kind_bits))?;
    let (signed, payload, mac) = if authenticated {
        if after_addr.len() < MAC_LEN {
            return Err(FrameError::TooShort);
        }
        let (signed, mac) = covered.split_at(covered.len() - MAC_LEN);
        let mut tag = [0u8; MAC_LEN];
        tag.copy_from_slice(mac);
        let payload_len = after_addr.len() - MAC_LEN;
        (signed, &after_addr[..payload_len], Some(tag))
    } else {
        (covered, after_addr, None)
    };
    Ok(RawFrame {
        header: Header {
            seat,
            kind,
            authenticated,
            counter_low: hdr & 0x0F,
        },
        signed,
        payload,
        mac,
    })
}

/// Writes header, address and payload of `msg` into `body`; returns the length written.
/// The caller appends the MAC (if any) with [`seal`].
pub(crate) fn write_signed(
    body: &mut [u8; MAX_BODY],
    seat: SeatId,
    msg: &Message,
    authenticated: bool,
    counter: u32,
) -> Result<usize, EncodeError> {
    let auth = if authenticated { HDR_AUTH } else { 0 };
    body[0] = (PROTOCOL_MAJOR << 5) | auth | (counter & 0x0F) as u8;
    let addr = (u32::from(seat) << 4) | msg.kind() as u32;
    let addr_len = postcard::to_slice(&addr, &mut body[1..])
        .map_err(|_| EncodeError::BufferTooSmall)?
        .len();
    let start = 1 + addr_len;
    // Reserve room for the trailer so `seal` cannot overflow.
    let room = MAX_BODY - start - 2 - if authenticated { MAC_LEN } else { 0 };
    let payload_len = msg
        .encode_payload(&mut body[start..start + room])
        .map_err(|_| EncodeError::BufferTooSmall)?
        .len();
    Ok(start + payload_len)
}

/// Appends the optional MAC and the CRC to a body, then COBS-encodes it with its delimiter into
/// `out`. Returns the wire bytes.
pub(crate) fn seal<'o>(
    body: &mut [u8; MAX_BODY],
    mut len: usize,
    mac: Option<[u8; MAC_LEN]>,
    out: &'o mut [u8],
) -> Result<&'o [u8], EncodeError> {
    if let Some(tag) = mac {
        body[len..len + MAC_LEN].copy_from_slice(&tag);
        len += MAC_LEN;
    }
    let crc = CRC.checksum(&body[..len]);
    body[len..len + 2].copy_from_slice(&crc.to_le_bytes());
    len += 2;
    if out.len() < cobs::max_encoding_length(len) + 1 {
        return Err(EncodeError::BufferTooSmall);
    }
    let n = cobs::try_encode(&body[..len], out).map_err(|_| EncodeError::BufferTooSmall)?;
    out[n] = 0;
    Ok(&out[..=n])
}

/// Encodes an unauthenticated frame (for seats provisioned without a key, and for tests).
pub fn encode_unauthenticated<'o>(
    seat: SeatId,
    counter: u32,
    msg: &Message,
    out: &'o mut [u8],
) -> Result<&'o [u8], EncodeError> {
    let mut body = [0u8; MAX_BODY];
    let len = write_signed(&mut body, seat, msg, false, counter)?;
    seal(&mut body, len, None, out)
}

/// Reassembles frames from a byte stream that arrives in arbitrary chunks.
///
/// Never allocates and never panics: a frame longer than `N` bytes is dropped up to the next
/// delimiter and reported once as [`FrameError::TooLong`]; garbage between delimiters is reported
/// as [`FrameError::BadCobs`] or [`FrameError::BadCrc`] and decoding resumes at the next frame.
pub struct FrameDecoder<const N: usize = MAX_WIRE> {
    buf: [u8; N],
    len: usize,
    overflow: bool,
}

impl<const N: usize> Default for FrameDecoder<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> FrameDecoder<N> {
    /// An empty decoder.
    pub const fn new() -> Self {
        Self {
            buf: [0; N],
            len: 0,
            overflow: false,
        }
    }

    /// Forgets a partial frame, e.g. after the line was reopened.
    pub fn reset(&mut self) {
        self.len = 0;
        self.overflow = false;
    }

    /// Feeds a chunk of wire bytes; `on_frame` is called once per frame or error, in stream order.
    pub fn feed(&mut self, chunk: &[u8], mut on_frame: impl FnMut(Result<RawFrame<'_>, FrameError>)) {
        for &byte in chunk {
            if byte != 0 {
                if self.len < N {
                    self.buf[self.len] = byte;
                    self.len += 1;
                } else {
                    self.overflow = true;
                }
                continue;
            }
            let len = core::mem::replace(&mut self.len, 0);
            if core::mem::replace(&mut self.overflow, false) {
                on_frame(Err(FrameError::TooLong));
            } else if len > 0 {
                match cobs::decode_in_place(&mut self.buf[..len]) {
                    Ok(n) => on_frame(parse_body(&self.buf[..n])),
                    Err(_) => on_frame(Err(FrameError::BadCobs)),
                }
            }
            // len == 0: back-to-back delimiters (idle line filler, or a sender that also leads
            // each frame with a delimiter to resynchronise faster) are not frames.
        }
    }
}
