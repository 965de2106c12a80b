//! # hemiwatch-protocol — the seat ↔ host wire protocol
//!
//! One `no_std`, allocation-free crate that both the seat firmware and the host daemon depend on,
//! so the two ends cannot disagree about a byte: message types ([`message`]), COBS framing with a
//! CRC and a streaming decoder ([`frame`]), AES-CMAC authentication ([`auth`]) and the session and
//! anti-replay state machines of both ends ([`link`]), bus access on a shared RS-485 line
//! ([`bus`]), plus the public demo keys ([`demo`]).
//!
//! ## Wire format in one paragraph
//! Every frame names its seat (a `u16`, so one serial line can carry a whole RS-485 segment), its
//! message kind and the protocol major version; carries a postcard payload, an optional 64-bit
//! truncated AES-128-CMAC and a CRC-16; and is COBS-encoded with a `0x00` delimiter. See
//! [`frame`] for the exact layout. An authenticated `Telemetry` frame with two temperatures is
//! 24 bytes on the wire, 16 without the MAC (MAVLink v2's HEARTBEAT: 34 signed, 21 unsigned) — as
//! long as the seat id is below 1024, the uptime below 11 days and the temperatures below 81.92 °C;
//! each of those adds one byte beyond (`tests/size_budget.rs` pins the figures).
//!
//! ## Threat model
//! On 20 March 2025 the Assemblée nationale's voting system failed mid-ballot on an overheated
//! component, and some suspected a hack. Hemiwatch's link must make both stories checkable.
//! The attacker we design against can read, inject, drop, delay and replay bytes on a seat line
//! (a laptop on the RS-485 segment, a compromised concentrator), but does not hold seat keys.
//! - **Spoofed "all fine" hiding a hot seat** — an attacker silences the real seat and sends cool
//!   telemetry in its name. Every frame carries a CMAC under that seat's own 128-bit key; without
//!   the key a forged frame is rejected ([`link::AuthError::BadMac`]), the real seat goes
//!   *silent* in the daemon's eyes, and silence raises an alert. Keys are per seat, so one
//!   extracted board key forges only that seat.
//! - **Fake alarms to disrupt a vote** — forged overheat telemetry, or a forged `Failover` sent to
//!   seats. Downlink commands are authenticated the same way; a seat acts only on verified
//!   commands for itself.
//! - **Replay** — re-sending a genuine old frame (a hot reading from yesterday, a `Failover`, or
//!   telemetry captured before the seat rebooted). Every frame is MACed under the session nonce
//!   the host chose fresh when the seat last said `Hello`, and a strictly increasing counter; the
//!   receiver accepts each counter once ([`link::AuthError::Replay`]). A `Session` answer is bound
//!   to the seat's boot id and the exact `Hello` it answers, so an old `Session` cannot roll a seat
//!   back to a used nonce.
//! - **Replayed `Hello`** — a `Hello` is MACed under the key alone (no session yet), so a captured
//!   one verifies forever. It must therefore prove nothing: the daemon answers it on the line it
//!   came from but treats the seat as present, moves it to that line and reports its facts only
//!   once the first frame under the answered session verifies; a `Hello` at or below one of a
//!   boot that already opened a session is refused as a replay, from a per-seat list of boots the
//!   daemon keeps in SQLite (so a restart does not forget it).
//! - **Repeated boot id** — a `Session` is bound to the seat's `boot_id`; if a later boot drew the
//!   same id, a recorded `Session` and the commands after it (a `Failover`) would verify again.
//!   Both boards mix a boot counter kept in flash into the id (the firmware's `boot_count`).
//! - **Selective dropping** — the message kind travels in clear, so an on-path attacker can
//!   forward the seat's `Ack`s to the host's pings and drop its `Telemetry`. Only verified
//!   telemetry counts as liveness in the daemon; acks without telemetry raise
//!   `telemetry_missing` and the seat is never "ok" meanwhile.
//! - **Permanent desync** — an uplink outage longer than the forward window
//!   ([`link::FORWARD_CANDIDATES`] × 16 = 512 frames) leaves every later frame a bad MAC while the
//!   seat still hears the pings. The daemon closes the session ([`link::HostLink::close_session`])
//!   after 8 bad MACs in a row or 8 periods without telemetry; the seat, no longer pinged,
//!   says `Hello` again.
//! - **Masquerade attempts** — forged or replayed frames kept up on a line raise `link_tampering`
//!   on that line: a security event, not only a counter.
//! - **Out of scope** — an attacker holding a seat's key (physical extraction from the board), and
//!   denial of service by jamming the line (detected as silence, not prevented). Confidentiality is
//!   not a goal: temperatures are not secret; integrity and freshness are.
//!
//! The key never crosses the wire. Cryptography is RustCrypto's `aes` + `cmac` (no_std, constant-
//! time tag comparison); a 64-bit tag makes online forgery hopeless at serial-line speeds.

#![no_std]
#![deny(missing_docs)]

pub mod auth;
pub mod bus;
pub mod demo;
pub mod frame;
pub mod link;
pub mod message;

pub use auth::{Authenticator, SeatKey};
pub use demo::demo_key;
pub use frame::{
    encode_unauthenticated, parse_body, EncodeError, FrameDecoder, FrameError, Header, OwnedFrame, RawFrame,
    MAC_LEN, MAX_BODY, MAX_WIRE, PROTOCOL_MAJOR, PROTOCOL_MINOR,
};
pub use link::{AuthError, HostLink, SeatLink, SessionChange, Verified};
pub use message::*;

/// A seat's address on the wire and in the config: its number in the hemicycle.
pub type SeatId = u16;
