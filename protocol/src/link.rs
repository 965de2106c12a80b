//! Both ends of an authenticated seat link: sessions, frame counters and anti-replay.
//!
//! ```text
//! seat                                   host
//!  | Hello{boot_id, counter=c}  (nonce 0) |  verified with the key; not yet trusted as fresh
//!  |------------------------------------->|
//!  | Session{nonce N, boot_id, c}         |  bound to this boot and this Hello
//!  |<-------------------------------------|
//!  | Telemetry (counter c+1.., nonce N)   |  first frame under N confirms the session
//!  |------------------------------------->|
//! ```
//!
//! Every frame after the handshake is MACed under the host's fresh nonce and a strictly increasing
//! 32-bit counter of which only 4 bits travel. A frame from an earlier session (before a reboot or a
//! re-hello) never verifies under the current one; a frame of the current session with a counter
//! not above the last accepted one is a replay. Both ends share this code: the firmware runs
//! [`SeatLink`], the daemon runs one [`HostLink`] per configured seat.

use crate::auth::{Authenticator, SeatKey};
use crate::frame::{self, EncodeError, RawFrame, MAX_BODY};
use crate::message::{Hello, Message, MessageKind, Session};
use crate::SeatId;

/// How many counter values past the expected one a receiver tries, in steps of 16 (the 4-bit wire
/// field): up to 512 consecutive lost frames, over four minutes at 2 Hz. A longer outage ends in a
/// re-hello (the seat stops hearing the host's pings), which resynchronises the counters.
pub const FORWARD_CANDIDATES: u32 = 32;
/// How many counter values at or below the last accepted one are tried to classify a rejected
/// frame as a replay rather than a bad MAC: the last 256 frames of a session.
pub const BACKWARD_CANDIDATES: u32 = 16;
/// Sessions a host link remembers after they are replaced, to name replays of pre-reboot frames.
pub const RETIRED_SESSIONS: usize = 4;

/// Why an authenticated link refused a well-formed frame. Each is counted separately; the
/// interesting ones for security are `BadMac` (forgery or wrong key) and `Replay`.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum AuthError {
    /// No MAC on a frame from a seat that has a key.
    Unauthenticated,
    /// The MAC does not verify under any session or counter this link would accept.
    BadMac,
    /// The frame verifies, but under a counter or session already used: a replay.
    Replay,
    /// No session is open yet, so nothing but `Hello` can be verified.
    NoSession,
    /// A `Session` for another boot or for a `Hello` this seat never sent.
    StaleSession,
    /// The frame is addressed to another seat (normal on a shared RS-485 segment).
    OtherSeat,
    /// The kind belongs to the other direction (an echo of our own transmission, or a spoof).
    WrongDirection,
    /// The MAC verified but the payload does not decode: a sender bug or a minor-version mismatch.
    BadPayload,
}

impl AuthError {
    /// Stable name for counters and logs.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Unauthenticated => "unauthenticated",
            Self::BadMac => "bad_mac",
            Self::Replay => "replay",
            Self::NoSession => "no_session",
            Self::StaleSession => "stale_session",
            Self::OtherSeat => "other_seat",
            Self::WrongDirection => "wrong_direction",
            Self::BadPayload => "bad_payload",
        }
    }
}

impl core::fmt::Display for AuthError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Unauthenticated => "frame carries no MAC",
            Self::BadMac => "MAC does not verify",
            Self::Replay => "replayed frame",
            Self::NoSession => "no session open",
            Self::StaleSession => "session message for another boot or hello",
            Self::OtherSeat => "frame addressed to another seat",
            Self::WrongDirection => "message kind travels the other way",
            Self::BadPayload => "authenticated payload does not decode",
        })
    }
}

/// The counter value right after `last` whose low nibble is `low`: the cheapest reconstruction.
pub const fn next_counter(last: Option<u32>, low: u8) -> u32 {
    let next = match last {
        Some(l) => l.wrapping_add(1),
        None => 0,
    };
    next.wrapping_add((low as u32).wrapping_sub(next) & 0x0F)
}

/// Tries the counters after `last` that end in the frame's nibble; returns the one that verifies.
fn verify_forward(
    a: &mut Authenticator,
    nonce: u64,
    last: Option<u32>,
    f: &RawFrame<'_>,
    tag: &[u8; 8],
) -> Option<u32> {
    let first = next_counter(last, f.header.counter_low);
    (0..FORWARD_CANDIDATES)
        .map(|k| first.wrapping_add(k * 16))
        .find(|&c| a.verify(nonce, c, f.signed, tag))
}

/// Tries the counters at or below `last` that end in the frame's nibble: a hit is a replay.
fn verifies_backward(a: &mut Authenticator, nonce: u64, last: u32, f: &RawFrame<'_>, tag: &[u8; 8]) -> bool {
    let low = u32::from(f.header.counter_low);
    let top = last.wrapping_sub((last.wrapping_sub(low)) & 0x0F);
    (0..BACKWARD_CANDIDATES)
        .map(|k| u64::from(top).checked_sub(u64::from(k) * 16))
        .take_while(Option::is_some)
        .flatten()
        .any(|c| a.verify(nonce, c as u32, f.signed, tag))
}

fn mac_of(f: &RawFrame<'_>) -> Result<[u8; 8], AuthError> {
    f.mac.ok_or(AuthError::Unauthenticated)
}

fn message_of(f: &RawFrame<'_>) -> Result<Message, AuthError> {
    f.message().map_err(|_| AuthError::BadPayload)
}

#[derive(Copy, Clone, Debug)]
struct SeatSession {
    nonce: u64,
    hello_counter: u32,
    rx_last: Option<u32>,
}

/// The seat end of the link: builds authenticated uplink frames and verifies host commands.
#[derive(Clone, Debug)]
pub struct SeatLink {
    seat: SeatId,
    auth: Authenticator,
    boot_id: u32,
    tx_counter: u32,
    session: Option<SeatSession>,
    /// Sessions answering a `Hello` counted below this are stale: set when a session is ended,
    /// so that a replayed older `Session` cannot bring back a nonce under which commands were
    /// captured.
    session_floor: u32,
}

impl SeatLink {
    /// A link for a fresh boot. `boot_id` should differ from every earlier boot of this seat (a
    /// random value); a repeat only lets the host mistake a reboot for a re-hello.
    pub fn new(seat: SeatId, key: &SeatKey, boot_id: u32) -> Self {
        Self {
            seat,
            auth: Authenticator::new(key),
            boot_id,
            tx_counter: 0,
            session: None,
            session_floor: 0,
        }
    }

    /// Forgets the open session (the host that opened it is gone or was replaced): only `Hello`
    /// can be sent until a `Session` answers a `Hello` sent from now on.
    pub fn end_session(&mut self) {
        self.session = None;
        self.session_floor = self.tx_counter;
    }

    /// This seat's id.
    pub const fn seat(&self) -> SeatId {
        self.seat
    }
    /// This boot's identity.
    pub const fn boot_id(&self) -> u32 {
        self.boot_id
    }
    /// Whether the host answered a `Hello`; before that only `Hello` can be sent.
    pub const fn has_session(&self) -> bool {
        self.session.is_some()
    }
    /// Counter the next frame will carry.
    pub const fn next_counter(&self) -> u32 {
        self.tx_counter
    }

    /// Encodes an uplink message. For `Hello` the link fills in `boot_id` and `counter`.
    pub fn encode<'o>(&mut self, msg: &Message, out: &'o mut [u8]) -> Result<&'o [u8], EncodeError> {
        if !msg.kind().is_uplink() {
            return Err(EncodeError::WrongDirection);
        }
        let counter = self.tx_counter;
        let patched;
        let (msg, nonce) = match msg {
            Message::Hello(h) => {
                patched = Message::Hello(Hello {
                    boot_id: self.boot_id,
                    counter,
                    ..h.clone()
                });
                (&patched, 0)
            }
            other => (other, self.session.ok_or(EncodeError::NoSession)?.nonce),
        };
        let mut body = [0u8; MAX_BODY];
        let len = frame::write_signed(&mut body, self.seat, msg, true, counter)?;
        let tag = self.auth.tag(nonce, counter, &body[..len]);
        let wire = frame::seal(&mut body, len, Some(tag), out)?;
        self.tx_counter = counter.wrapping_add(1);
        Ok(wire)
    }

    /// Verifies a downlink frame. A `Session` is applied here and returned for information; any
    /// other command is returned for the firmware to act on (and to `Ack` with the counter).
    pub fn accept(&mut self, f: &RawFrame<'_>) -> Result<(u32, Message), AuthError> {
        if f.header.seat != self.seat {
            return Err(AuthError::OtherSeat);
        }
        if f.header.kind.is_uplink() {
            return Err(AuthError::WrongDirection);
        }
        let tag = mac_of(f)?;
        if f.header.kind == MessageKind::Session {
            if !self.auth.verify(0, 0, f.signed, &tag) {
                return Err(AuthError::BadMac);
            }
            let Message::Session(s) = message_of(f)? else {
                return Err(AuthError::BadPayload);
            };
            if s.boot_id != self.boot_id
                || s.hello_counter >= self.tx_counter
                || s.hello_counter < self.session_floor
            {
                return Err(AuthError::StaleSession);
            }
            if self
                .session
                .is_some_and(|cur| s.hello_counter <= cur.hello_counter)
            {
                return Err(AuthError::Replay);
            }
            self.session = Some(SeatSession {
                nonce: s.nonce,
                hello_counter: s.hello_counter,
                rx_last: None,
            });
            return Ok((0, Message::Session(s)));
        }
        let session = self.session.as_mut().ok_or(AuthError::NoSession)?;
        match verify_forward(&mut self.auth, session.nonce, session.rx_last, f, &tag) {
            Some(counter) => {
                let msg = message_of(f)?;
                session.rx_last = Some(counter);
                Ok((counter, msg))
            }
            None => match session.rx_last {
                Some(last) if verifies_backward(&mut self.auth, session.nonce, last, f, &tag) => {
                    Err(AuthError::Replay)
                }
                _ => Err(AuthError::BadMac),
            },
        }
    }
}

#[derive(Copy, Clone, Debug)]
struct HostSession {
    nonce: u64,
    boot_id: u32,
    hello_counter: u32,
    rx_last: u32,
    tx_counter: u32,
}

/// What a verified uplink frame changed about the session.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum SessionChange {
    /// Nothing: the frame belongs to the open session (or is a `Hello`).
    None,
    /// The frame is the first under a session answered to a `Hello`: it is now the open one.
    Established {
        /// Boot identity of the seat in this session.
        boot_id: u32,
        /// True when the previous session belonged to another boot: the seat rebooted.
        new_boot: bool,
    },
}

/// A verified uplink frame.
#[derive(Clone, Debug, PartialEq)]
pub struct Verified {
    /// The full reconstructed frame counter.
    pub counter: u32,
    /// The decoded message.
    pub message: Message,
    /// Whether it opened a session.
    pub session: SessionChange,
}

/// The host end of one seat's link: verifies uplink frames, answers `Hello`, encodes commands.
///
/// Keeps no heap: one open session, two answered-but-unconfirmed ones, and the last few retired
/// ones (to name replays of frames captured before a reboot).
#[derive(Clone, Debug)]
pub struct HostLink {
    seat: SeatId,
    auth: Option<Authenticator>,
    current: Option<HostSession>,
    pending: [Option<HostSession>; 2],
    retired: [Option<HostSession>; RETIRED_SESSIONS],
    next_retired: usize,
    newest_hello: Option<(u32, u32)>,
    unauth_last: Option<u32>,
}

impl HostLink {
    /// A link for a seat with a key (`Some`) or, for development benches only, without (`None`):
    /// then frames are accepted unauthenticated and nothing protects against spoofing or replay.
    pub fn new(seat: SeatId, key: Option<&SeatKey>) -> Self {
        Self {
            seat,
            auth: key.map(Authenticator::new),
            current: None,
            pending: [None; 2],
            retired: [None; RETIRED_SESSIONS],
            next_retired: 0,
            newest_hello: None,
            unauth_last: None,
        }
    }

    /// The seat this link serves.
    pub const fn seat(&self) -> SeatId {
        self.seat
    }

    /// Boot identity of the open session, if any.
    pub fn boot_id(&self) -> Option<u32> {
        self.current.map(|s| s.boot_id)
    }

    /// Whether commands can be sent (a session is open).
    pub const fn has_session(&self) -> bool {
        self.current.is_some()
    }

    /// Verifies an uplink frame addressed to this seat.
    pub fn accept(&mut self, f: &RawFrame<'_>) -> Result<Verified, AuthError> {
        if f.header.seat != self.seat {
            return Err(AuthError::OtherSeat);
        }
        if !f.header.kind.is_uplink() {
            return Err(AuthError::WrongDirection);
        }
        let Some(auth) = self.auth.as_mut() else {
            if f.header.authenticated {
                // A MAC we have no key for: the seat and the config disagree; never trust it.
                return Err(AuthError::BadMac);
            }
            let counter = next_counter(self.unauth_last, f.header.counter_low);
            let message = message_of(f)?;
            self.unauth_last = Some(counter);
            return Ok(Verified {
                counter,
                message,
                session: SessionChange::None,
            });
        };
        let tag = mac_of(f)?;
        if f.header.kind == MessageKind::Hello {
            return Self::accept_hello(
                auth,
                &mut self.newest_hello,
                &self.current,
                &self.retired,
                f,
                &tag,
            );
        }
        if let Some(cur) = self.current.as_mut() {
            if let Some(counter) = verify_forward(auth, cur.nonce, Some(cur.rx_last), f, &tag) {
                let message = message_of(f)?;
                cur.rx_last = counter;
                return Ok(Verified {
                    counter,
                    message,
                    session: SessionChange::None,
                });
            }
        }
        for i in 0..self.pending.len() {
            let Some(p) = self.pending[i] else { continue };
            if let Some(counter) = verify_forward(auth, p.nonce, Some(p.rx_last), f, &tag) {
                let message = message_of(f)?;
                self.pending[i] = None;
                let new_boot = self.current.is_none_or(|c| c.boot_id != p.boot_id);
                if let Some(old) = self.current.take() {
                    self.retired[self.next_retired] = Some(old);
                    self.next_retired = (self.next_retired + 1) % RETIRED_SESSIONS;
                }
                self.current = Some(HostSession {
                    rx_last: counter,
                    ..p
                });
                let session = SessionChange::Established {
                    boot_id: p.boot_id,
                    new_boot,
                };
                return Ok(Verified {
                    counter,
                    message,
                    session,
                });
            }
        }
        if self.current.is_none() && self.pending.iter().all(Option::is_none) {
            return Err(AuthError::NoSession);
        }
        let replay = self
            .current
            .iter()
            .chain(self.retired.iter().flatten())
            .any(|s| verifies_backward(auth, s.nonce, s.rx_last, f, &tag));
        Err(if replay {
            AuthError::Replay
        } else {
            AuthError::BadMac
        })
    }

    fn accept_hello(
        auth: &mut Authenticator,
        newest_hello: &mut Option<(u32, u32)>,
        current: &Option<HostSession>,
        retired: &[Option<HostSession>],
        f: &RawFrame<'_>,
        tag: &[u8; 8],
    ) -> Result<Verified, AuthError> {
        // The payload is parsed before the MAC check only to learn the full counter the MAC covers;
        // nothing in it is used unless the MAC verifies.
        let message = message_of(f)?;
        let Message::Hello(hello) = &message else {
            return Err(AuthError::BadPayload);
        };
        if hello.counter & 0x0F != u32::from(f.header.counter_low)
            || !auth.verify(0, hello.counter, f.signed, tag)
        {
            return Err(AuthError::BadMac);
        }
        let seen_before = |s: &HostSession| s.boot_id == hello.boot_id && hello.counter <= s.hello_counter;
        let stale_newest =
            newest_hello.is_some_and(|(boot, counter)| boot == hello.boot_id && hello.counter <= counter);
        if stale_newest || current.iter().chain(retired.iter().flatten()).any(seen_before) {
            return Err(AuthError::Replay);
        }
        *newest_hello = Some((hello.boot_id, hello.counter));
        Ok(Verified {
            counter: hello.counter,
            message,
            session: SessionChange::None,
        })
    }

    /// Answers a verified `Hello` with a `Session` under the fresh random `nonce` (the caller owns
    /// the random source). The session opens when the seat's first frame under it verifies.
    pub fn respond_to_hello<'o>(
        &mut self,
        hello: &Hello,
        nonce: u64,
        out: &'o mut [u8],
    ) -> Result<&'o [u8], EncodeError> {
        let auth = self.auth.as_mut().ok_or(EncodeError::NoSession)?;
        let session = Session {
            nonce,
            boot_id: hello.boot_id,
            hello_counter: hello.counter,
        };
        let mut body = [0u8; MAX_BODY];
        let len = frame::write_signed(&mut body, self.seat, &Message::Session(session), true, 0)?;
        let tag = auth.tag(0, 0, &body[..len]);
        let wire = frame::seal(&mut body, len, Some(tag), out)?;
        let fresh = HostSession {
            nonce,
            boot_id: hello.boot_id,
            hello_counter: hello.counter,
            rx_last: hello.counter,
            tx_counter: 0,
        };
        // Newest answer replaces the older pending one: a seat only ever uses its latest Session.
        self.pending[1] = self.pending[0].take();
        self.pending[0] = Some(fresh);
        Ok(wire)
    }

    /// Encodes a command for the open session; returns its counter (echoed in the seat's `Ack`)
    /// and the wire bytes.
    pub fn encode<'o>(&mut self, msg: &Message, out: &'o mut [u8]) -> Result<(u32, &'o [u8]), EncodeError> {
        if msg.kind().is_uplink() || msg.kind() == MessageKind::Session {
            return Err(EncodeError::WrongDirection);
        }
        let auth = self.auth.as_mut().ok_or(EncodeError::NoSession)?;
        let cur = self.current.as_mut().ok_or(EncodeError::NoSession)?;
        let counter = cur.tx_counter.wrapping_add(1);
        let mut body = [0u8; MAX_BODY];
        let len = frame::write_signed(&mut body, self.seat, msg, true, counter)?;
        let tag = auth.tag(cur.nonce, counter, &body[..len]);
        let wire = frame::seal(&mut body, len, Some(tag), out)?;
        cur.tx_counter = counter;
        Ok((counter, wire))
    }
}
