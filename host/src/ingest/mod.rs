//! Frames → verified messages: the synchronous core between the lines and the rest of the daemon.
//!
//! Owns one [`HostLink`] per configured seat (sessions, counters, anti-replay), answers `Hello`s,
//! encodes commands, and reports everything as [`IngestEvent`]s.
//!
//! **No liveness pings.** Seats used to re-`Hello` when no verified host frame came for 5 s, so
//! the host pinged each seat every 2 s: on a bus line that is a command and an `Ack` per seat per
//! 2 s — for 72 seats 36 commands/s, three times what a line's command window carries at 2 Hz
//! (`COMMANDS_PER_ROUND` per round), and every `Ack` takes a telemetry turn. The bus scheme makes
//! them useless: the seat knows its host is there from the beacons, and knows a new host (which
//! does not know its session) from the beacon's epoch; the host knows the seat is there from its
//! telemetry every round period, which the silence detector watches. No I/O and no clock of its own (time is a parameter), so it is tested and
//! benchmarked without a runtime.

use std::collections::HashMap;

use hemiwatch_protocol::{
    Ack, AuthError, EncodeError, Event, Hello, HostLink, Message, OwnedFrame, SeatId, SeatKey, SessionChange,
    Telemetry, MAX_WIRE,
};
use rand::Rng;

use crate::source::LineId;

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
    /// A verified `Hello`: the seat booted or lost the host.
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

/// Why the ingest core refused a well-formed frame.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Rejection {
    /// The seat id is not in the config.
    UnknownSeat,
    /// The link refused it (bad MAC, replay…).
    Auth(AuthError),
}

impl Rejection {
    /// Stable name for counters.
    pub const fn name(self) -> &'static str {
        match self {
            Self::UnknownSeat => "unknown_seat",
            Self::Auth(e) => e.name(),
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
}

/// The ingest core. See the module docs.
pub struct Ingest {
    seats: HashMap<SeatId, SeatLinkState>,
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
                    },
                )
            })
            .collect();
        Self {
            seats,
            buf: Box::new([0; MAX_WIRE]),
        }
    }

    /// Handles one frame from `line` at `now_ms`, appending what follows to `out`.
    pub fn on_frame(&mut self, line: LineId, frame: &OwnedFrame, _now_ms: u64, out: &mut Vec<IngestEvent>) {
        let raw = frame.as_raw();
        let seat = raw.header.seat;
        let Some(state) = self.seats.get_mut(&seat) else {
            out.push(IngestEvent::Rejected {
                seat,
                line,
                reason: Rejection::UnknownSeat,
            });
            return;
        };
        let verified = match state.link.accept(&raw) {
            Ok(v) => v,
            Err(e) => {
                out.push(IngestEvent::Rejected {
                    seat,
                    line,
                    reason: Rejection::Auth(e),
                });
                return;
            }
        };
        // Only a verified frame may move the seat to another line: a spoofer on line B must not
        // steer the seat's commands away from line A.
        state.line = Some(line);
        if let SessionChange::Established { boot_id, new_boot } = verified.session {
            state.last_counter = None;
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
            Message::Hello(hello) => {
                let nonce = rand::rng().random::<u64>();
                match state.link.respond_to_hello(&hello, nonce, &mut self.buf[..]) {
                    Ok(bytes) => {
                        out.push(IngestEvent::Send {
                            line,
                            bytes: bytes.to_vec(),
                        });
                    }
                    Err(e) => tracing::error!(seat, error = %e, "cannot answer hello"),
                }
                out.push(IngestEvent::Hello { seat, line, hello });
                // The Hello's counter starts the count; the session's frames follow it.
                state.last_counter = Some(verified.counter);
            }
            Message::Telemetry(telemetry) => {
                state.last_counter = Some(verified.counter);
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

    /// Encodes a command for a seat on the line it was last heard on; returns the command's
    /// counter (echoed by the seat's `Ack`) and the `Send` to perform (the line queues it for its
    /// next round openings).
    pub fn command(
        &mut self,
        seat: SeatId,
        msg: &Message,
        _now_ms: u64,
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
        Ok((
            counter,
            IngestEvent::Send {
                line,
                bytes: bytes.to_vec(),
            },
        ))
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
    use hemiwatch_protocol::{
        BoardKind, FirmwareVersion, FrameDecoder, ResetCause, SeatLink, PROTOCOL_MINOR,
    };

    const KEY: SeatKey = SeatKey([3; 16]);

    fn hello() -> Message {
        Message::Hello(Hello {
            protocol_minor: PROTOCOL_MINOR,
            firmware: FirmwareVersion {
                major: 1,
                minor: 0,
                patch: 0,
            },
            board: BoardKind::Simulated,
            boot_id: 0,
            counter: 0,
            sensors: 1,
            reset: ResetCause::PowerOn,
            period_ms: 500,
        })
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
        assert_eq!(
            out[0],
            IngestEvent::SessionOpened {
                seat: 5,
                boot_id: 77,
                new_boot: true
            }
        );
        assert!(
            matches!(&out[1], IngestEvent::Sample { seat: 5, lost: 0, telemetry, .. } if *telemetry == t)
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
        let mut stranger = SeatLink::new(6, &KEY, 1);
        let mut buf = [0u8; MAX_WIRE];
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
