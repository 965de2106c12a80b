//! Frames → verified messages: the synchronous core between the lines and the rest of the daemon.
//!
//! Owns one [`HostLink`] per configured seat (sessions, counters, anti-replay), answers `Hello`s,
//! encodes commands, and reports everything as [`IngestEvent`]s.
//!
//! **No liveness pings** (one probe, below, for a seat whose telemetry is overdue). Seats used to
//! re-`Hello` when no verified host frame came for 5 s, so
//! the host pinged each seat every 2 s: on a bus line that is a command and an `Ack` per seat per
//! 2 s — for 72 seats 36 commands/s, three times what a line's command window carries at 2 Hz
//! (`COMMANDS_PER_ROUND` per round). The bus scheme makes
//! them useless: the seat knows its host is there from the beacons, and knows a new host (which
//! does not know its session) from the beacon's epoch; the host knows the seat is there from its
//! telemetry every round period, which the silence detector watches. No I/O and no clock of its own (time is a parameter), so it is tested and
//! benchmarked without a runtime.

use std::collections::{HashMap, VecDeque};

use hemiwatch_protocol::{
    Ack, AuthError, EncodeError, Event, Hello, HostLink, Message, OwnedFrame, Ping, SeatId, SeatKey,
    SessionChange, Telemetry, MAX_WIRE,
};
use rand::Rng;

use crate::source::LineId;

/// Consecutive bad MACs from a seat with an open session, with no verified frame between them
/// nor for two periods, after which the host closes the session to force a new handshake (the
/// time condition keeps forgeries injected beside a seat that still verifies from resetting it). A genuine seat never sends a
/// bad MAC; an uplink outage longer than the forward window
/// ([`FORWARD_CANDIDATES`](hemiwatch_protocol::link::FORWARD_CANDIDATES) × 16 = 512 frames)
/// leaves every later frame one, forever, while the seat still hears the pings. Eight is four
/// seconds of a seat at 2 Hz.
pub const RESYNC_AFTER_BAD_MACS: u32 = 8;

/// Telemetry periods without verified telemetry from a seat whose session is open after which the
/// host closes its side of the session (the seat is dead, or its telemetry is withheld: its other
/// frames are refused from then on).
pub const RESYNC_AFTER_PERIODS: u64 = 8;

/// Frames a line may have refused (bad MAC, replay, no session…) within one second before the
/// rest of that second's frames on it get only the one-CMAC check
/// ([`HostLink::accept_next`]): with at most
/// [`MAX_CMACS_PER_FRAME`](hemiwatch_protocol::link::MAX_CMACS_PER_FRAME) CMACs per fully
/// checked refusal, a flood of forgeries on one line (a `tcp:` line has no baud rate to cap it)
/// costs at most 100 × 68 CMACs a second plus one per further frame, while the seats that keep
/// talking stay heard. No honest line comes near it (a seat never sends a bad MAC).
pub const LINE_REJECTIONS_PER_S: u32 = 100;

/// Boots of a seat whose `Hello` the host remembers (and persists) to refuse replays of them
/// after they left the link's own few slots, across daemon restarts: years of reboots.
pub const REMEMBERED_BOOTS: usize = 256;

/// What the ingest core asks the daemon to do or tells it happened.
#[derive(Clone, Debug, PartialEq)]
pub enum IngestEvent {
    /// Write these wire bytes to a line.
    Send {
        /// Line to write to.
        line: LineId,
        /// Wire frame.
        bytes: Vec<u8>,
    },
    /// The `Hello` a new session answered: the seat booted or lost the host. Reported only once
    /// the first frame under that session verifies, so a replayed `Hello` (which verifies: its
    /// MAC is genuine) changes nothing — not the seat's line, nor its liveness, nor its facts.
    Hello {
        /// Seat.
        seat: SeatId,
        /// Line it was heard on.
        line: LineId,
        /// Its contents.
        hello: Hello,
    },
    /// The first frame under a new session verified.
    SessionOpened {
        /// Seat.
        seat: SeatId,
        /// Boot identity.
        boot_id: u32,
        /// True when it is a new boot (a reboot if the seat was known).
        new_boot: bool,
    },
    /// A verified telemetry sample.
    Sample {
        /// Seat.
        seat: SeatId,
        /// Line it was heard on.
        line: LineId,
        /// Reconstructed frame counter.
        counter: u32,
        /// Frames lost since the previous one (counter gap).
        lost: u32,
        /// The sample.
        telemetry: Telemetry,
    },
    /// A verified seat event.
    Event {
        /// Seat.
        seat: SeatId,
        /// The event.
        event: Event,
    },
    /// A verified acknowledgement of a host command.
    Ack {
        /// Seat.
        seat: SeatId,
        /// The ack.
        ack: Ack,
    },
    /// The host closed the seat's session to force a new handshake (see [`ResyncReason`]).
    Resync {
        /// Seat.
        seat: SeatId,
        /// The line the seat was last heard on: on a bus line the host renews the line's epoch
        /// for a desynchronised seat (its beacons then tell every seat there to say Hello again).
        line: Option<LineId>,
        /// Why.
        reason: ResyncReason,
    },
    /// A frame was refused; counted and logged (rate-limited) by the daemon, never trusted.
    Rejected {
        /// Seat it claimed to come from.
        seat: SeatId,
        /// Line it arrived on.
        line: LineId,
        /// Why.
        reason: Rejection,
    },
}

/// Why the host closed a seat's session.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum ResyncReason {
    /// [`RESYNC_AFTER_BAD_MACS`] consecutive frames failed their MAC: the counters no longer meet.
    BadMacs,
    /// No verified telemetry for [`RESYNC_AFTER_PERIODS`] periods while the session stood open.
    NoTelemetry,
}

impl ResyncReason {
    /// Stable name for logs and events.
    pub const fn name(self) -> &'static str {
        match self {
            Self::BadMacs => "bad_macs",
            Self::NoTelemetry => "no_telemetry",
        }
    }
}

/// Why the ingest core refused a well-formed frame.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// The seat id is not in the config.
    UnknownSeat,
    /// The link refused it (bad MAC, replay…).
    Auth(AuthError),
    /// Refused by the one-CMAC check its line gets after [`LINE_REJECTIONS_PER_S`] refusals in a
    /// second (not the open session's next frame).
    Throttled,
}

impl Rejection {
    /// Stable name for counters.
    pub const fn name(self) -> &'static str {
        match self {
            Self::UnknownSeat => "unknown_seat",
            Self::Auth(e) => e.name(),
            Self::Throttled => "throttled",
        }
    }
}

/// Why a command could not be sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// The seat is not configured.
    #[error("seat {0} is not configured")]
    UnknownSeat(SeatId),
    /// The seat has no open session (never heard, or rebooting): nothing can reach it yet.
    #[error("seat {0} has no open session")]
    NoSession(SeatId),
    /// The seat was never heard on any line.
    #[error("seat {0} has not been heard on any line")]
    NoLine(SeatId),
    /// The protocol refused to encode it.
    #[error("cannot encode: {0}")]
    Encode(EncodeError),
}

struct SeatLinkState {
    link: HostLink,
    line: Option<LineId>,
    last_counter: Option<u32>,
    /// When the host last sent this seat anything (a `Session`, a command): an overdue seat is
    /// probed only if nothing was sent it since a period after its last telemetry.
    last_tx_ms: u64,
    /// `Hello`s answered and not yet confirmed by a frame under their session (newest last).
    answered: VecDeque<Hello>,
    /// Boots whose `Hello` opened a session, with the highest `Hello` counter seen (oldest first):
    /// a `Hello` at or below it is a replay however long ago it was captured.
    boots: VecDeque<(u32, u32)>,
    /// Bad MACs in a row since the last verified frame.
    bad_macs: u32,
    /// The seat's telemetry period: its line's round period, which the host schedules
    /// ([`Ingest::set_period`]). Not the `Hello`'s `period_ms`, which is the seat's own sampling
    /// period (1 s on the boards by default, half a round slower than a 2 Hz line): read from the
    /// `Hello`, it delayed the overdue probe and the resync by a whole period.
    period_ms: u64,
    /// When telemetry last verified, or the session opened.
    last_telemetry_ms: u64,
    /// The seat has a key (an unauthenticated development seat has no sessions).
    keyed: bool,
    /// When a frame of the seat's session last verified.
    last_verified_ms: u64,
}

impl SeatLinkState {
    /// Whether a `Hello` of `boot_id` at `counter` was already superseded by one that opened a
    /// session.
    fn stale_hello(&self, boot_id: u32, counter: u32) -> bool {
        self.boots.iter().any(|&(b, c)| b == boot_id && counter <= c)
    }

    /// Remembers that `boot_id`'s `Hello` at `counter` opened a session.
    fn remember_boot(&mut self, boot_id: u32, counter: u32) {
        if let Some(pos) = self.boots.iter().position(|&(b, _)| b == boot_id) {
            let (_, c) = self.boots.remove(pos).unwrap_or((boot_id, counter));
            self.boots.push_back((boot_id, c.max(counter)));
        } else {
            self.boots.push_back((boot_id, counter));
        }
        while self.boots.len() > REMEMBERED_BOOTS {
            self.boots.pop_front();
        }
    }
}

/// The ingest core. See the module docs.
pub struct Ingest {
    seats: HashMap<SeatId, SeatLinkState>,
    /// Per line: the second being counted and the frames refused in it.
    refused: HashMap<LineId, (u64, u32)>,
    buf: Box<[u8; MAX_WIRE]>,
}

impl Ingest {
    /// One link per configured seat; `None` keys mean an unauthenticated development seat.
    pub fn new(seats: impl IntoIterator<Item = (SeatId, Option<SeatKey>)>) -> Self {
        let seats = seats
            .into_iter()
            .map(|(id, key)| {
                let link = HostLink::new(id, key.as_ref());
                (
                    id,
                    SeatLinkState {
                        link,
                        line: None,
                        last_counter: None,
                        last_tx_ms: 0,
                        answered: VecDeque::new(),
                        boots: VecDeque::new(),
                        bad_macs: 0,
                        period_ms: crate::config::defaults::DEFAULT_PERIOD_MS as u64,
                        keyed: key.is_some(),
                        last_verified_ms: 0,
                        last_telemetry_ms: 0,
                    },
                )
            })
            .collect();
        Self {
            seats,
            refused: HashMap::new(),
            buf: Box::new([0; MAX_WIRE]),
        }
    }

    /// Takes back the boots whose `Hello`s opened sessions before a restart (from storage), so
    /// that their `Hello`s are refused as replays: `(seat, boot_id, hello counter)`.
    pub fn remember_boots(&mut self, boots: impl IntoIterator<Item = (SeatId, u32, u32)>) {
        for (seat, boot_id, counter) in boots {
            if let Some(s) = self.seats.get_mut(&seat) {
                s.remember_boot(boot_id, counter);
            }
        }
    }

    /// Handles one frame from `line` at `now_ms`, appending what follows to `out`.
    pub fn on_frame(&mut self, line: LineId, frame: &OwnedFrame, now_ms: u64, out: &mut Vec<IngestEvent>) {
        let raw = frame.as_raw();
        let second = now_ms / 1_000;
        let refused = self.refused.entry(line).or_insert((second, 0));
        if refused.0 != second {
            *refused = (second, 0);
        }
        let flooded = refused.1 >= LINE_REJECTIONS_PER_S;
        let before = out.len();
        self.verify_frame(line, &raw, now_ms, flooded, out);
        if out[before..]
            .iter()
            .any(|e| matches!(e, IngestEvent::Rejected { .. }))
        {
            if let Some(r) = self.refused.get_mut(&line) {
                r.1 += 1;
            }
        }
    }

    /// CMACs computed for a seat's link so far (wrapping): what its frames cost.
    pub fn cmacs_computed(&self, seat: SeatId) -> u32 {
        self.seats.get(&seat).map_or(0, |s| s.link.cmacs_computed())
    }

    /// Verifies one frame (`flooded`: with the line's cheap check only) and acts on it.
    fn verify_frame(
        &mut self,
        line: LineId,
        raw: &hemiwatch_protocol::RawFrame<'_>,
        now_ms: u64,
        flooded: bool,
        out: &mut Vec<IngestEvent>,
    ) {
        let seat = raw.header.seat;
        let Some(state) = self.seats.get_mut(&seat) else {
            out.push(IngestEvent::Rejected {
                seat,
                line,
                reason: Rejection::UnknownSeat,
            });
            return;
        };
        let checked = if flooded && state.keyed {
            state.link.accept_next(raw).map_err(|_| None)
        } else {
            state.link.accept(raw).map_err(Some)
        };
        let verified = match checked {
            Ok(v) => v,
            Err(None) => {
                out.push(IngestEvent::Rejected {
                    seat,
                    line,
                    reason: Rejection::Throttled,
                });
                return;
            }
            Err(Some(e)) => {
                out.push(IngestEvent::Rejected {
                    seat,
                    line,
                    reason: Rejection::Auth(e),
                });
                if e == AuthError::BadMac && state.link.has_session() {
                    state.bad_macs += 1;
                    // Forgeries injected beside a seat that still verifies must not reset it.
                    let quiet = now_ms.saturating_sub(state.last_verified_ms) >= 2 * state.period_ms;
                    if state.bad_macs >= RESYNC_AFTER_BAD_MACS && quiet {
                        Self::resync(seat, state, ResyncReason::BadMacs, now_ms, out);
                    }
                }
                return;
            }
        };
        if let Message::Hello(hello) = &verified.message {
            self.on_hello(seat, line, hello, now_ms, out);
            return;
        }
        let Some(state) = self.seats.get_mut(&seat) else {
            return;
        };
        state.bad_macs = 0;
        state.last_verified_ms = now_ms;
        // Only a verified frame of a session may move the seat to another line: a spoofer on line
        // B must not steer the seat's commands away from line A, nor may a replayed `Hello`.
        state.line = Some(line);
        if let SessionChange::Established { boot_id, new_boot } = verified.session {
            state.last_counter = None;
            state.last_telemetry_ms = now_ms;
            // The newest `Hello` of this boot is the one the session answered.
            if let Some(pos) = state.answered.iter().rposition(|h| h.boot_id == boot_id) {
                let hello = state.answered[pos].clone();
                state.answered.retain(|h| h.boot_id != boot_id);
                state.remember_boot(boot_id, hello.counter);
                state.last_counter = Some(hello.counter);
                out.push(IngestEvent::Hello { seat, line, hello });
            }
            out.push(IngestEvent::SessionOpened {
                seat,
                boot_id,
                new_boot,
            });
        }
        let lost = match state.last_counter {
            Some(last) if verified.counter > last => verified.counter - last - 1,
            _ => 0,
        };
        match verified.message {
            // Handled above.
            Message::Hello(_) => {}
            Message::Telemetry(telemetry) => {
                state.last_counter = Some(verified.counter);
                state.last_telemetry_ms = now_ms;
                out.push(IngestEvent::Sample {
                    seat,
                    line,
                    counter: verified.counter,
                    lost,
                    telemetry,
                });
            }
            Message::Event(event) => {
                state.last_counter = Some(verified.counter);
                out.push(IngestEvent::Event { seat, event });
            }
            Message::Ack(ack) => {
                state.last_counter = Some(verified.counter);
                out.push(IngestEvent::Ack { seat, ack });
            }
            // `accept` refuses downlink kinds, so these cannot be verified uplink messages.
            Message::Session(_)
            | Message::SetConfig(_)
            | Message::Failover(_)
            | Message::Identify(_)
            | Message::Ping(_) => {}
        }
    }

    /// A `Hello` whose MAC verified: answered with a `Session` on the line it came from, and
    /// nothing else until a frame under that session proves the seat is really there. One at or
    /// below a `Hello` that already opened a session (remembered across restarts) is a replay.
    fn on_hello(
        &mut self,
        seat: SeatId,
        line: LineId,
        hello: &Hello,
        now_ms: u64,
        out: &mut Vec<IngestEvent>,
    ) {
        let Some(state) = self.seats.get_mut(&seat) else {
            return;
        };
        if !state.keyed {
            // A development seat without a key: nothing to answer, nothing to protect.
            state.line = Some(line);
            out.push(IngestEvent::Hello {
                seat,
                line,
                hello: hello.clone(),
            });
            return;
        }
        if state.stale_hello(hello.boot_id, hello.counter) {
            out.push(IngestEvent::Rejected {
                seat,
                line,
                reason: Rejection::Auth(AuthError::Replay),
            });
            return;
        }
        let nonce = rand::rng().random::<u64>();
        match state.link.respond_to_hello(hello, nonce, &mut self.buf[..]) {
            Ok(bytes) => {
                if state.line.is_none_or(|l| l == line) {
                    state.last_tx_ms = now_ms;
                }
                out.push(IngestEvent::Send {
                    line,
                    bytes: bytes.to_vec(),
                });
                state.answered.push_back(hello.clone());
                while state.answered.len() > 2 {
                    state.answered.pop_front();
                }
            }
            Err(e) => tracing::error!(seat, error = %e, "cannot answer hello"),
        }
    }

    /// Closes the host's side of a seat's session. For a desynchronised seat (bad MACs) the daemon
    /// also renews the line's epoch, which makes the seat say Hello again.
    fn resync(
        seat: SeatId,
        state: &mut SeatLinkState,
        reason: ResyncReason,
        now_ms: u64,
        out: &mut Vec<IngestEvent>,
    ) {
        state.link.close_session();
        state.answered.clear();
        state.bad_macs = 0;
        state.last_telemetry_ms = now_ms;
        out.push(IngestEvent::Resync {
            seat,
            line: state.line,
            reason,
        });
    }

    /// Encodes a command for a seat on the line it was last heard on; returns the command's
    /// counter (echoed by the seat's `Ack`) and the `Send` to perform (the line queues it for its
    /// next round openings).
    pub fn command(
        &mut self,
        seat: SeatId,
        msg: &Message,
        now_ms: u64,
    ) -> Result<(u32, IngestEvent), CommandError> {
        let state = self.seats.get_mut(&seat).ok_or(CommandError::UnknownSeat(seat))?;
        let line = state.line.ok_or(CommandError::NoLine(seat))?;
        if !state.link.has_session() {
            return Err(CommandError::NoSession(seat));
        }
        let (counter, bytes) = state
            .link
            .encode(msg, &mut self.buf[..])
            .map_err(CommandError::Encode)?;
        // What makes the overdue probe one per gap (see `tick`).
        state.last_tx_ms = now_ms;
        Ok((
            counter,
            IngestEvent::Send {
                line,
                bytes: bytes.to_vec(),
            },
        ))
    }

    /// Closes the sessions of seats without telemetry for [`RESYNC_AFTER_PERIODS`], and probes a
    /// seat whose telemetry is overdue with one `Ping` per gap (the only ping left on a bus line:
    /// its `Ack`, or none, tells a seat whose telemetry is withheld from a dead one).
    pub fn tick(&mut self, now_ms: u64, out: &mut Vec<IngestEvent>) {
        for (&seat, state) in &mut self.seats {
            let quiet = now_ms.saturating_sub(state.last_telemetry_ms);
            if state.link.has_session() && quiet > RESYNC_AFTER_PERIODS * state.period_ms {
                Self::resync(seat, state, ResyncReason::NoTelemetry, now_ms, out);
            }
        }
        let due: Vec<SeatId> = self
            .seats
            .iter()
            .filter(|(_, s)| {
                // A seat whose telemetry is overdue is probed at once, once per gap: its answer
                // (or none) tells a seat whose telemetry is withheld from a dead one within the
                // 2.5 periods a silence takes to show.
                let overdue = now_ms.saturating_sub(s.last_telemetry_ms) * 2 > 3 * s.period_ms
                    && s.last_tx_ms <= s.last_telemetry_ms + s.period_ms;
                s.line.is_some() && s.link.has_session() && overdue
            })
            .map(|(id, _)| *id)
            .collect();
        for seat in due {
            if let Ok((_, send)) = self.command(seat, &Message::Ping(Ping {}), now_ms) {
                out.push(send);
            }
        }
    }

    /// Sets a seat's telemetry period: the round period of its line, as the daemon schedules it
    /// (the default until told is the config's default period).
    pub fn set_period(&mut self, seat: SeatId, period_ms: u64) {
        if let Some(s) = self.seats.get_mut(&seat) {
            s.period_ms = period_ms.max(1);
        }
    }

    /// Whether a seat has an open session (commands can reach it).
    pub fn has_session(&self, seat: SeatId) -> bool {
        self.seats.get(&seat).is_some_and(|s| s.link.has_session())
    }

    /// The line a seat was last heard on.
    pub fn line_of(&self, seat: SeatId) -> Option<LineId> {
        self.seats.get(&seat).and_then(|s| s.line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hemiwatch_protocol::{FrameDecoder, SeatLink};

    const KEY: SeatKey = SeatKey([3; 16]);

    fn hello() -> Message {
        Message::Hello(Hello::simulated(500))
    }

    fn frames(wire: &[u8]) -> Vec<OwnedFrame> {
        let mut dec = FrameDecoder::<MAX_WIRE>::new();
        let mut v = Vec::new();
        dec.feed(wire, |r| v.push(r.unwrap().to_owned()));
        v
    }

    fn feed(ingest: &mut Ingest, line: LineId, wire: &[u8], now: u64) -> Vec<IngestEvent> {
        let mut out = Vec::new();
        for f in frames(wire) {
            ingest.on_frame(line, &f, now, &mut out);
        }
        out
    }

    /// Plays the seat side: Hello → the ingest's Session → seat accepts it.
    fn handshake(ingest: &mut Ingest, seat: &mut SeatLink, line: LineId) {
        let mut buf = [0u8; MAX_WIRE];
        let out = feed(ingest, line, seat.encode(&hello(), &mut buf).unwrap(), 0);
        let Some(IngestEvent::Send { bytes, .. }) =
            out.iter().find(|o| matches!(o, IngestEvent::Send { .. }))
        else {
            panic!("no session answer: {out:?}")
        };
        let f = frames(bytes);
        seat.accept(&f[0].as_raw()).unwrap();
    }

    fn telemetry<'b>(seat: &mut SeatLink, buf: &'b mut [u8; MAX_WIRE]) -> &'b [u8] {
        seat.encode(&Message::Telemetry(Telemetry::default()), buf)
            .unwrap()
    }

    /// Item 1 of issue 12: a `Hello` replayed from an earlier boot — here after a daemon restart,
    /// when the link's own slots are empty — is refused from what was persisted; one that
    /// verifies but is never followed by its session changes nothing: not the seat's line, not
    /// its facts, not the real session.
    #[test]
    fn replayed_hellos_are_refused_across_restarts_and_never_move_the_seat() {
        let mut buf = [0u8; MAX_WIRE];
        // Boot 1: the attacker records its Hello.
        let mut ingest = Ingest::new([(5, Some(KEY))]);
        let mut boot1 = SeatLink::new(5, &KEY, 0x1111);
        let old_hello = boot1.encode(&hello(), &mut buf).unwrap().to_vec();
        let out = feed(&mut ingest, 0, &old_hello, 0);
        let Some(IngestEvent::Send { bytes, .. }) =
            out.iter().find(|o| matches!(o, IngestEvent::Send { .. }))
        else {
            panic!("{out:?}")
        };
        boot1.accept(&frames(bytes)[0].as_raw()).unwrap();
        let out = feed(&mut ingest, 0, telemetry(&mut boot1, &mut buf), 10);
        let persisted: Vec<(SeatId, u32, u32)> = out
            .iter()
            .filter_map(|e| match e {
                IngestEvent::Hello { seat, hello, .. } => Some((*seat, hello.boot_id, hello.counter)),
                _ => None,
            })
            .collect();
        assert_eq!(persisted, [(5, 0x1111, 0)]);
        // The daemon restarts (what storage kept comes back); the seat reboots and runs on line 0.
        let mut ingest = Ingest::new([(5, Some(KEY))]);
        ingest.remember_boots(persisted);
        let mut boot2 = SeatLink::new(5, &KEY, 0x2222);
        handshake(&mut ingest, &mut boot2, 0);
        feed(&mut ingest, 0, telemetry(&mut boot2, &mut buf), 20);
        assert_eq!(ingest.line_of(5), Some(0));
        // The old Hello, replayed on line 1, is refused and moves nothing.
        let out = feed(&mut ingest, 1, &old_hello, 30);
        assert_eq!(
            out,
            vec![IngestEvent::Rejected {
                seat: 5,
                line: 1,
                reason: Rejection::Auth(AuthError::Replay)
            }],
            "a Hello from a boot that already opened a session, replayed after a restart"
        );
        assert_eq!(ingest.line_of(5), Some(0));
        // A Hello never seen (captured while the daemon was down) verifies and is answered, but
        // reports nothing and leaves the seat where it is until its session is used.
        let mut unseen = SeatLink::new(5, &KEY, 0x3333);
        let out = feed(&mut ingest, 1, unseen.encode(&hello(), &mut buf).unwrap(), 40);
        assert!(
            out.iter().all(|e| matches!(e, IngestEvent::Send { line: 1, .. })),
            "only the Session answer: {out:?}"
        );
        assert_eq!(ingest.line_of(5), Some(0));
        let out = feed(&mut ingest, 0, telemetry(&mut boot2, &mut buf), 50);
        assert!(
            matches!(out[..], [IngestEvent::Sample { line: 0, .. }]),
            "real session undisturbed: {out:?}"
        );
    }

    /// Item 3 of issue 12: after an uplink outage longer than the forward window, every frame is
    /// a bad MAC; the host closes the session (no more pings) so the seat says Hello again.
    #[test]
    fn a_desynchronised_link_is_reset_after_consecutive_bad_macs() {
        let mut buf = [0u8; MAX_WIRE];
        let mut ingest = Ingest::new([(5, Some(KEY))]);
        let mut seat = SeatLink::new(5, &KEY, 9);
        handshake(&mut ingest, &mut seat, 0);
        feed(&mut ingest, 0, telemetry(&mut seat, &mut buf), 0);
        assert!(ingest.has_session(5));
        // 600 frames lost on the uplink: beyond the forward window of 512.
        for _ in 0..600 {
            telemetry(&mut seat, &mut buf);
        }
        let mut resets = 0;
        for i in 0..RESYNC_AFTER_BAD_MACS {
            let out = feed(
                &mut ingest,
                0,
                telemetry(&mut seat, &mut buf),
                1_000 + u64::from(i) * 500,
            );
            assert!(out.contains(&IngestEvent::Rejected {
                seat: 5,
                line: 0,
                reason: Rejection::Auth(AuthError::BadMac)
            }));
            resets += out
                .iter()
                .filter(|e| {
                    matches!(
                        e,
                        IngestEvent::Resync {
                            reason: ResyncReason::BadMacs,
                            ..
                        }
                    )
                })
                .count();
        }
        assert_eq!(
            resets, 1,
            "one reset after {RESYNC_AFTER_BAD_MACS} bad MACs in a row"
        );
        assert!(!ingest.has_session(5), "the session is closed: no more pings");
        let mut out = Vec::new();
        ingest.tick(60_000, &mut out);
        assert!(out.is_empty(), "nothing pinged: {out:?}");
        // The seat, no longer hearing the host, says Hello again: the link recovers.
        handshake(&mut ingest, &mut seat, 0);
        let out = feed(&mut ingest, 0, telemetry(&mut seat, &mut buf), 61_000);
        assert!(
            out.iter().any(|e| matches!(e, IngestEvent::Sample { .. })),
            "{out:?}"
        );
    }

    /// Item 6 of issue 12: a flood of forgeries on one line costs a bounded number of CMACs per
    /// second, and the seat is heard again the next second.
    #[test]
    fn a_flood_of_forgeries_costs_a_bounded_number_of_cmacs_per_line_and_second() {
        let mut buf = [0u8; MAX_WIRE];
        let mut ingest = Ingest::new([(5, Some(KEY))]);
        let mut seat = SeatLink::new(5, &KEY, 9);
        handshake(&mut ingest, &mut seat, 0);
        feed(&mut ingest, 0, telemetry(&mut seat, &mut buf), 0);
        // Forged telemetry (the costly kind: every counter window is searched), from an impostor
        // with its own session under another key.
        let wrong = SeatKey([0xEE; 16]);
        let mut impostor = SeatLink::new(5, &wrong, 9);
        let mut accomplice = Ingest::new([(5, Some(wrong))]);
        handshake(&mut accomplice, &mut impostor, 0);
        let forged: Vec<u8> = (0..1_000)
            .flat_map(|_| telemetry(&mut impostor, &mut buf).to_vec())
            .collect();
        let before = ingest.cmacs_computed(5);
        let out = feed(&mut ingest, 0, &forged, 600);
        let cost = ingest.cmacs_computed(5).wrapping_sub(before);
        assert!(
            u64::from(cost)
                <= u64::from(LINE_REJECTIONS_PER_S)
                    * u64::from(hemiwatch_protocol::link::MAX_CMACS_PER_FRAME),
            "1000 forgeries cost {cost} CMACs"
        );
        let throttled = out
            .iter()
            .filter(|e| {
                matches!(
                    e,
                    IngestEvent::Rejected {
                        reason: Rejection::Throttled,
                        ..
                    }
                )
            })
            .count();
        assert_eq!(throttled, 1_000 - LINE_REJECTIONS_PER_S as usize);
        let out = feed(&mut ingest, 0, telemetry(&mut seat, &mut buf), 1_100);
        assert!(matches!(out[..], [IngestEvent::Sample { .. }]), "{out:?}");
        // Under the flood, the seat that keeps talking is heard (one CMAC per frame).
        let mut mixed = forged.clone();
        mixed.extend_from_slice(telemetry(&mut seat, &mut buf));
        let out = feed(&mut ingest, 0, &mixed, 1_200);
        assert!(
            matches!(out.last(), Some(IngestEvent::Sample { .. })),
            "{:?}",
            out.last()
        );
        assert!(
            ingest.has_session(5),
            "forgeries beside a live seat never reset its session"
        );
    }

    /// A seat whose telemetry is overdue is probed once per gap, not at every tick: a probe is a
    /// command, two of which a round carries, so probing every tick took the round's command
    /// window from the failovers (and, while a ping's answer took a turn of its own, kept the
    /// seat's telemetry every other turn and pushed a failover's `Ack` out of its queue: found by
    /// `silences.rs`). Failed before a command counted as the host's last transmission to the
    /// seat.
    #[test]
    fn an_overdue_seat_is_probed_once_per_gap() {
        let mut buf = [0u8; MAX_WIRE];
        let mut ingest = Ingest::new([(5, Some(KEY))]);
        let mut seat = SeatLink::new(5, &KEY, 9);
        handshake(&mut ingest, &mut seat, 0);
        feed(&mut ingest, 0, telemetry(&mut seat, &mut buf), 0);
        let probes = |ingest: &mut Ingest, at: u64| {
            let mut out = Vec::new();
            ingest.tick(at, &mut out);
            out.iter()
                .filter(|e| matches!(e, IngestEvent::Send { .. }))
                .count()
        };
        assert_eq!(probes(&mut ingest, 700), 0, "not overdue before 1.5 periods");
        assert_eq!(probes(&mut ingest, 800), 1, "overdue: one probe");
        for at in [900, 1_000, 1_100, 1_200] {
            assert_eq!(probes(&mut ingest, at), 0, "one probe per gap (tick at {at} ms)");
        }
        feed(&mut ingest, 0, telemetry(&mut seat, &mut buf), 1_300);
        assert_eq!(probes(&mut ingest, 1_600), 0);
        assert_eq!(probes(&mut ingest, 2_100), 1, "the next gap gets its probe");
    }

    /// The overdue probe and the resync follow the seat's round period as the daemon schedules
    /// it, not the `Hello`'s `period_ms` (the board's sampling period, 1 s by default): read from
    /// the `Hello`, a QEMU seat on a 2 Hz line was probed at 1.5 s instead of 0.75 s, its `Ack`
    /// came a period late and took a telemetry turn further into the gap (black-channel scenario:
    /// a `telemetry_missing` fired on 10 % loss). Failed before the period came from the daemon.
    #[test]
    fn the_probe_follows_the_scheduled_period_not_the_hellos_sampling_period() {
        let mut buf = [0u8; MAX_WIRE];
        let mut ingest = Ingest::new([(5, Some(KEY))]);
        ingest.set_period(5, 500);
        let mut seat = SeatLink::new(5, &KEY, 9);
        let out = feed(
            &mut ingest,
            0,
            seat.encode(&Message::Hello(Hello::simulated(1_000)), &mut buf)
                .unwrap(),
            0,
        );
        let Some(IngestEvent::Send { bytes, .. }) =
            out.iter().find(|o| matches!(o, IngestEvent::Send { .. }))
        else {
            panic!("no session answer: {out:?}")
        };
        seat.accept(&frames(bytes)[0].as_raw()).unwrap();
        feed(&mut ingest, 0, telemetry(&mut seat, &mut buf), 0);
        let mut out = Vec::new();
        ingest.tick(800, &mut out);
        assert!(
            out.iter().any(|e| matches!(e, IngestEvent::Send { .. })),
            "probed at 1.5 scheduled periods: {out:?}"
        );
        out.clear();
        ingest.tick(4_100, &mut out);
        assert!(
            out.iter().any(|e| matches!(e, IngestEvent::Resync { .. })),
            "reset after 8 scheduled periods: {out:?}"
        );
    }

    /// A session open while no telemetry verifies (acks do) for 8 periods is reset too.
    #[test]
    fn a_session_without_telemetry_is_reset() {
        let mut buf = [0u8; MAX_WIRE];
        let mut ingest = Ingest::new([(5, Some(KEY))]);
        let mut seat = SeatLink::new(5, &KEY, 9);
        handshake(&mut ingest, &mut seat, 0);
        feed(&mut ingest, 0, telemetry(&mut seat, &mut buf), 0);
        let mut out = Vec::new();
        ingest.tick(RESYNC_AFTER_PERIODS * 500, &mut out);
        assert!(
            !out.iter().any(|e| matches!(e, IngestEvent::Resync { .. })),
            "{out:?}"
        );
        ingest.tick(RESYNC_AFTER_PERIODS * 500 + 1, &mut out);
        assert!(
            out.iter().any(|e| matches!(
                e,
                IngestEvent::Resync {
                    seat: 5,
                    reason: ResyncReason::NoTelemetry,
                    ..
                }
            )),
            "{out:?}"
        );
        assert!(!ingest.has_session(5));
    }

    #[test]
    fn hello_is_answered_and_telemetry_flows() {
        let mut ingest = Ingest::new([(5, Some(KEY))]);
        let mut seat = SeatLink::new(5, &KEY, 77);
        handshake(&mut ingest, &mut seat, 0);
        let mut buf = [0u8; MAX_WIRE];
        let t = Telemetry {
            uptime_min: 1,
            supply_mv: 3300,
            ..Default::default()
        };
        let out = feed(
            &mut ingest,
            0,
            seat.encode(&Message::Telemetry(t.clone()), &mut buf).unwrap(),
            10,
        );
        assert!(
            matches!(&out[0], IngestEvent::Hello { seat: 5, line: 0, hello } if hello.boot_id == 77),
            "the Hello is reported once its session is confirmed: {out:?}"
        );
        assert_eq!(
            out[1],
            IngestEvent::SessionOpened {
                seat: 5,
                boot_id: 77,
                new_boot: true
            }
        );
        assert!(
            matches!(&out[2], IngestEvent::Sample { seat: 5, lost: 0, telemetry, .. } if *telemetry == t)
        );
        // Two lost frames show up as a counter gap.
        seat.encode(&Message::Telemetry(t.clone()), &mut buf).unwrap();
        seat.encode(&Message::Telemetry(t.clone()), &mut buf).unwrap();
        let out = feed(
            &mut ingest,
            0,
            seat.encode(&Message::Telemetry(t), &mut buf).unwrap(),
            20,
        );
        assert!(
            matches!(out[..], [IngestEvent::Sample { lost: 2, .. }]),
            "{out:?}"
        );
    }

    #[test]
    fn unknown_seats_and_wrong_keys_are_rejected_and_do_not_move_the_line() {
        let mut ingest = Ingest::new([(5, Some(KEY))]);
        let mut seat = SeatLink::new(5, &KEY, 1);
        handshake(&mut ingest, &mut seat, 0);
        let mut buf = [0u8; MAX_WIRE];
        feed(&mut ingest, 0, telemetry(&mut seat, &mut buf), 0);
        let mut stranger = SeatLink::new(6, &KEY, 1);
        let out = feed(&mut ingest, 0, stranger.encode(&hello(), &mut buf).unwrap(), 0);
        assert_eq!(
            out,
            vec![IngestEvent::Rejected {
                seat: 6,
                line: 0,
                reason: Rejection::UnknownSeat
            }]
        );
        let mut impostor = SeatLink::new(5, &SeatKey([9; 16]), 1);
        let out = feed(&mut ingest, 1, impostor.encode(&hello(), &mut buf).unwrap(), 0);
        assert_eq!(
            out,
            vec![IngestEvent::Rejected {
                seat: 5,
                line: 1,
                reason: Rejection::Auth(AuthError::BadMac)
            }]
        );
        assert_eq!(ingest.line_of(5), Some(0));
    }

    #[test]
    fn commands_reach_the_seat_and_pings_keep_it_company() {
        let mut ingest = Ingest::new([(5, Some(KEY))]);
        let mut seat = SeatLink::new(5, &KEY, 1);
        assert_eq!(
            ingest
                .command(
                    5,
                    &Message::Failover(hemiwatch_protocol::Failover { active: true }),
                    0
                )
                .unwrap_err(),
            CommandError::NoLine(5)
        );
        handshake(&mut ingest, &mut seat, 2);
        let mut buf = [0u8; MAX_WIRE];
        feed(
            &mut ingest,
            2,
            seat.encode(&Message::Telemetry(Telemetry::default()), &mut buf)
                .unwrap(),
            0,
        );
        let (counter, IngestEvent::Send { line, bytes }) = ingest
            .command(
                5,
                &Message::Failover(hemiwatch_protocol::Failover { active: true }),
                100,
            )
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(line, 2);
        let (c, msg) = seat.accept(&frames(&bytes)[0].as_raw()).unwrap();
        assert_eq!(
            (c, msg),
            (
                counter,
                Message::Failover(hemiwatch_protocol::Failover { active: true })
            )
        );
    }
}
