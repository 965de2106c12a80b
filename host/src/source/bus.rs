//! The active host's side of one RS-485 line ([`hemiwatch_protocol::bus`]): a [`HostScheduler`]
//! that opens the line's rounds on schedule, and the line's queue of downlink commands, sent at
//! most [`COMMANDS_PER_ROUND`] ahead of each beacon, `Failover` first.
//!
//! No I/O and no clock of its own (time is a parameter): the daemon's line task, the simulator's
//! in-process capture and the HIL tests' host drive the same code. Every byte and frame read from
//! the line goes to [`LineBus::on_bytes`]; [`LineBus::poll`] says what to write and when to ask
//! again.
//!
//! **Own echo.** On a MAX485-style transceiver with RE̅ tied to DE the host does not hear its own
//! transmission; a USB adapter with auto-direction may echo it. Either is fine: an echoed beacon
//! or command only moves the "last byte heard" to the end of the host's own transmission, which
//! [`LineBus::poll`] already assumes.

use std::collections::VecDeque;

use hemiwatch_protocol::bus::{
    bytes_ns, Heard, HostAction, HostScheduler, Nanos, Plan, COMMANDS_PER_ROUND, TURNAROUND_NS,
};
use hemiwatch_protocol::{FrameDecoder, MessageKind, SeatId, MAX_WIRE};

/// One downlink frame waiting for a round opening.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Queued {
    /// The seat it is for.
    pub seat: SeatId,
    /// What it is (orders the queue: `Failover` first; a newer `Session` replaces an older one).
    pub kind: MessageKind,
    /// The wire frame.
    pub bytes: Vec<u8>,
}

impl Queued {
    /// A downlink wire frame as encoded by the host's link, queued for its seat; `None` when the
    /// bytes are not one well-formed frame.
    pub fn from_wire(bytes: Vec<u8>) -> Option<Self> {
        let mut header = None;
        FrameDecoder::<MAX_WIRE>::new().feed(&bytes, |f| {
            if let Ok(f) = f {
                header = Some(f.header);
            }
        });
        let h = header?;
        Some(Self {
            seat: h.seat,
            kind: h.kind,
            bytes,
        })
    }
}

/// Longest `Session` frame on the wire, rounded up (a 64-bit nonce, boot id and counter as
/// varints, header, MAC, CRC, COBS and delimiter).
pub const SESSION_WIRE_MAX: usize = 40;

/// Most downlink frames a line holds: a power-on storm of a full line queues one `Session` per
/// seat; beyond this the oldest non-`Failover` frame is dropped (its seat will ask again).
pub const QUEUE_LIMIT: usize = 1_024;

/// See the module docs.
pub struct LineBus {
    sched: HostScheduler,
    queue: VecDeque<Queued>,
    decoder: FrameDecoder<MAX_WIRE>,
    dropped: u64,
}

impl std::fmt::Debug for LineBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LineBus")
            .field("plan", self.plan())
            .field("queued", &self.queue.len())
            .finish()
    }
}

impl LineBus {
    /// The active host of a line planned as `plan`, taking it at `now` with `epoch` (random per
    /// start, see [`hemiwatch_protocol::bus::Beacon::epoch`]): the first round opens at once.
    pub fn new(plan: Plan, now: Nanos, epoch: u8) -> Self {
        Self {
            sched: HostScheduler::new(plan, now).with_epoch(epoch),
            queue: VecDeque::new(),
            decoder: FrameDecoder::new(),
            dropped: 0,
        }
    }

    /// The line's plan.
    pub fn plan(&self) -> &Plan {
        self.sched.plan()
    }

    /// The epoch this host beacons.
    pub fn epoch(&self) -> u8 {
        self.sched.epoch()
    }

    /// Starts a new epoch (the next one): every seat of the line ends its session at the next
    /// beacon and says `Hello` again. Queued `Session`s answered Hellos of the old epoch: dropped.
    pub fn renew_epoch(&mut self) {
        self.sched.set_epoch(self.epoch().wrapping_add(1));
        self.queue.retain(|q| q.kind != MessageKind::Session);
    }

    /// Downlink frames waiting.
    pub fn queued(&self) -> usize {
        self.queue.len()
    }

    /// Frames dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Queues a downlink frame for the next round openings. `Failover` goes ahead of everything
    /// but earlier `Failover`s; a `Session` replaces one still queued for the same seat, in its
    /// place (only the answer to its latest `Hello` matters).
    pub fn enqueue(&mut self, q: Queued) {
        if q.kind == MessageKind::Session {
            // In place: a seat that keeps saying Hello must not keep losing its place.
            if let Some(o) = self
                .queue
                .iter_mut()
                .find(|o| o.kind == MessageKind::Session && o.seat == q.seat)
            {
                o.bytes = q.bytes;
                return;
            }
        }
        if self.queue.len() >= QUEUE_LIMIT {
            match self.queue.iter().rposition(|o| o.kind != MessageKind::Failover) {
                Some(i) => {
                    self.queue.remove(i);
                    self.dropped += 1;
                }
                None => {
                    self.dropped += 1;
                    return;
                }
            }
        }
        if q.kind == MessageKind::Failover {
            let at = self
                .queue
                .iter()
                .position(|o| o.kind != MessageKind::Failover)
                .unwrap_or(self.queue.len());
            self.queue.insert(at, q);
        } else {
            self.queue.push_back(q);
        }
    }

    /// Takes the oldest queued frame out (to move the queue to a re-planned line).
    pub fn pop(&mut self) -> Option<Queued> {
        self.queue.pop_front()
    }

    /// `Session`s sent ahead of a beacon beyond the [`COMMANDS_PER_ROUND`] window: as many as
    /// fit the round interval's slack over its worst case ([`Plan::worst_round_ns`]), so they
    /// never push a round past the next opening. At 72 seats, 2 Hz, 115200 baud that is ~30 per
    /// round: a whole line's handshakes go out within one period instead of 36 rounds (6 s), which
    /// would leave freshly booted seats without telemetry long enough to be called silent.
    pub fn session_slack(&self) -> usize {
        let p = self.plan();
        let slack = p.interval_ns().saturating_sub(p.worst_round_ns());
        (slack / p.timing.frame_ns(SESSION_WIRE_MAX)) as usize
    }

    /// Bytes read from the line at `now` (any chunking, garbage included).
    pub fn on_bytes(&mut self, now: Nanos, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        self.sched.on_byte(now);
        let sched = &mut self.sched;
        self.decoder.feed(bytes, |f| {
            if let Ok(f) = f {
                sched.on_frame(now, Heard::of(&f));
            }
        });
    }

    /// What to write at `now`: `Ok(bytes)` opens a round (the queued commands, then the beacon,
    /// as one transmission, assumed to leave the wire `bytes` character times from now), or
    /// `Err(at)`: nothing before `at` unless something is heard or queued.
    pub fn poll(&mut self, now: Nanos) -> Result<Vec<u8>, Nanos> {
        match self.sched.poll(now, self.queue.len()) {
            HostAction::Wait(at) => Err(at),
            HostAction::Open {
                commands,
                beacon,
                round,
            } => {
                let mut out = Vec::new();
                for q in self.queue.drain(..usize::from(commands.min(COMMANDS_PER_ROUND))) {
                    out.extend_from_slice(&q.bytes);
                }
                // A power-on storm's Sessions also fill the round's slack (see `session_slack`).
                let mut extra = self.session_slack();
                while extra > 0 {
                    let Some(i) = self.queue.iter().position(|q| q.kind == MessageKind::Session) else {
                        break;
                    };
                    if let Some(q) = self.queue.remove(i) {
                        out.extend_from_slice(&q.bytes);
                    }
                    extra -= 1;
                }
                let mut buf = [0u8; MAX_WIRE];
                match beacon.encode(round, &mut buf) {
                    Ok(b) => out.extend_from_slice(b),
                    // A beacon is a few bytes; it always fits. Should it not, the round opens
                    // with the commands alone and the seats sit it out.
                    Err(e) => tracing::error!(error = %e, "cannot encode a beacon"),
                }
                let end = now + TURNAROUND_NS + bytes_ns(out.len() as u64, self.plan().timing.baud);
                self.sched.transmitted(end);
                Ok(out)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use hemiwatch_protocol::bus::{Beacon, FrameSizes};

    use super::*;

    fn q(seat: SeatId, kind: MessageKind, tag: u8) -> Queued {
        Queued {
            seat,
            kind,
            bytes: vec![tag, 0],
        }
    }

    fn bus() -> LineBus {
        let plan = Plan::new(1, 72, 500_000_000, 115_200, FrameSizes::MEASURED).unwrap();
        LineBus::new(plan, 0, 5)
    }

    /// A desynchronised seat hears only beacons: a renewed epoch is what makes it say Hello
    /// again, and `Session`s queued for the old epoch's Hellos go (they would open sessions the
    /// seats are about to drop).
    #[test]
    fn a_renewed_epoch_is_beaconed_and_drops_the_old_epochs_sessions() {
        let mut b = bus();
        b.enqueue(q(3, MessageKind::Session, 1));
        b.enqueue(q(9, MessageKind::Failover, 2));
        b.renew_epoch();
        assert_eq!(b.epoch(), 6);
        let order: Vec<u8> = b.queue.iter().map(|q| q.bytes[0]).collect();
        assert_eq!(order, [2], "the Failover stays, the old Session goes");
        let out = b.poll(0).unwrap();
        let mut beacons = Vec::new();
        FrameDecoder::<MAX_WIRE>::new().feed(&out[2..], |f| beacons.push(Beacon::from_frame(&f.unwrap())));
        assert_eq!(beacons.len(), 1, "{beacons:?}");
        assert_eq!(
            beacons[0].map(|b| b.epoch),
            Some(6),
            "the next beacon carries the new epoch"
        );
    }

    #[test]
    fn failover_goes_first_and_a_session_replaces_the_older_one() {
        let mut b = bus();
        b.enqueue(q(3, MessageKind::Session, 1));
        b.enqueue(q(4, MessageKind::Ping, 2));
        b.enqueue(q(9, MessageKind::Failover, 3));
        b.enqueue(q(3, MessageKind::Session, 4));
        b.enqueue(q(8, MessageKind::Failover, 5));
        let order: Vec<u8> = b.queue.iter().map(|q| q.bytes[0]).collect();
        assert_eq!(order, [3, 5, 4, 2], "the newer Session in the older one's place");
        // Two commands ahead of the first beacon, Failovers first; the rest at the next opening.
        let out = b.poll(0).unwrap();
        assert_eq!(
            &out[..6],
            [3, 0, 5, 0, 4, 0],
            "two commands, then Sessions in the slack"
        );
        let mut beacons = Vec::new();
        FrameDecoder::<MAX_WIRE>::new().feed(&out[6..], |f| beacons.push(Beacon::from_frame(&f.unwrap())));
        assert_eq!(
            beacons,
            [Some(Beacon {
                epoch: 5,
                ..Beacon::new(1, 24)
            })]
        );
        assert_eq!(b.queued(), 1);
        let Err(at) = b.poll(1_000) else {
            panic!("one opening per round interval")
        };
        assert_eq!(at, b.plan().interval_ns());
        let out = b.poll(at).unwrap();
        assert_eq!(&out[..2], [2, 0]);
    }

    #[test]
    fn a_storm_of_sessions_goes_out_within_one_period() {
        let mut b = bus();
        assert!(b.session_slack() >= 24, "{}", b.session_slack());
        for seat in 1..=72 {
            b.enqueue(q(seat, MessageKind::Session, 1));
        }
        let mut now = 0;
        for _ in 0..3 {
            match b.poll(now) {
                Ok(_) => {}
                Err(at) => now = at,
            }
            let _ = b.poll(now);
        }
        assert_eq!(b.queued(), 0, "72 Sessions within the first few openings, not 36");
    }
}
