//! An RS-485 multi-drop wire in emulated time, and the two ways of sharing it that the bus tests
//! and the `bus_table` example compare.
//!
//! [`Bus`] models the half-duplex pair: a node that transmits drives the bus from the instant it
//! enables its driver, its bytes follow one character time (10 bits, 8N1) after another once the
//! driver-enable turnaround has passed, and it keeps driving for the turnaround after its last stop
//! bit. Every attached node hears every byte (host and seats alike; a transmitter hears its own
//! echo). Two nodes driving at once is a collision: the emulator counts it, and every byte whose
//! character time overlaps another node's driving is received by everyone as [`Rx::Garbled`] (a
//! UART framing error). Time is a number, never the wall clock: thousands of telemetry cycles run
//! in milliseconds and every run with the same seed is identical.
//!
//! [`aloha`] runs seats the way today's firmware transmits (free-running periodic telemetry from
//! a power-on storm); [`scheduled`] runs seats and a host following
//! [`hemiwatch_protocol::bus`], with the real links, real frames and real command round trips.

use hemiwatch_protocol::bus::{
    bytes_ns, FrameSizes, Heard, HostAction, HostScheduler, Nanos, Plan, SeatAccess, SeatAction, TurnContent,
    JITTER_NS,
};
use hemiwatch_protocol::{
    Ack, AckStatus, Failover, FrameDecoder, HostLink, Message, MessageKind, OwnedFrame, SeatId, SeatKey,
    SeatLink, Telemetry, MAX_WIRE,
};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::collections::VecDeque;

/// A node on the bus, as returned by [`Bus::attach`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub usize);

/// What every receiver gets for one character time.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Rx {
    /// A clean byte.
    Byte(u8),
    /// The character overlapped another transmitter: a framing error, value unknown.
    Garbled,
}

/// One character as the wire carried it, delivered to every node when its stop bit ends.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct WireByte {
    /// End of the stop bit.
    pub end: Nanos,
    /// Who drove it.
    pub from: NodeId,
    /// What receivers see.
    pub rx: Rx,
}

/// What the wire has carried so far.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Characters delivered.
    pub bytes: u64,
    /// Characters garbled by an overlap.
    pub garbled: u64,
    /// Frames delivered (delimiters driven).
    pub frames: u64,
    /// Frames with at least one garbled character.
    pub frames_garbled: u64,
    /// Transmissions that overlapped another node's (each overlapping pair counts once).
    pub collisions: u64,
    /// Time at least one character was on the wire.
    pub carrying_ns: Nanos,
}

struct Tx {
    from: NodeId,
    drive_start: Nanos,
    drive_end: Nanos,
    data_start: Nanos,
    bytes: Vec<u8>,
    next: usize,
    frame_garbled: bool,
}

impl Tx {
    fn byte_span(&self, i: usize, baud: u32) -> (Nanos, Nanos) {
        (
            self.data_start + bytes_ns(i as u64, baud),
            self.data_start + bytes_ns(i as u64 + 1, baud),
        )
    }
}

/// The emulated wire.
pub struct Bus {
    baud: u32,
    turnaround_ns: Nanos,
    now: Nanos,
    nodes: usize,
    txs: Vec<Tx>,
    stats: Stats,
    carried_until: Nanos,
}

impl Bus {
    /// A wire at `baud` whose transmitters take `turnaround_ns` to enable and to release their
    /// driver.
    pub fn new(baud: u32, turnaround_ns: Nanos) -> Self {
        Self {
            baud,
            turnaround_ns,
            now: 0,
            nodes: 0,
            txs: Vec::new(),
            stats: Stats::default(),
            carried_until: 0,
        }
    }

    /// Attaches a node (host or seat); every node hears everything.
    pub fn attach(&mut self) -> NodeId {
        self.nodes += 1;
        NodeId(self.nodes - 1)
    }

    /// The emulated clock: everything up to here has been delivered.
    pub fn now(&self) -> Nanos {
        self.now
    }

    /// Counters so far.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// `from` enables its driver at `at` (not before [`Self::now`]) and sends `bytes`; returns the
    /// end of the last stop bit. Overlap with another node's driving is counted as a collision now.
    pub fn transmit(&mut self, from: NodeId, at: Nanos, bytes: &[u8]) -> Nanos {
        assert!(
            at >= self.now,
            "transmission scheduled in the past ({at} < {})",
            self.now
        );
        let data_start = at + self.turnaround_ns;
        let last_end = data_start + bytes_ns(bytes.len() as u64, self.baud);
        let drive_end = last_end + self.turnaround_ns;
        for other in &self.txs {
            if other.from != from && other.drive_start < drive_end && at < other.drive_end {
                self.stats.collisions += 1;
            }
        }
        self.txs.push(Tx {
            from,
            drive_start: at,
            drive_end,
            data_start,
            bytes: bytes.to_vec(),
            next: 0,
            frame_garbled: false,
        });
        last_end
    }

    /// When the next character will have been delivered, if any is on its way.
    pub fn next_event(&self) -> Option<Nanos> {
        self.txs
            .iter()
            .filter(|t| t.next < t.bytes.len())
            .map(|t| t.byte_span(t.next, self.baud).1)
            .min()
    }

    /// Runs the wire up to `to`; returns every character whose stop bit ended by then, in order.
    pub fn advance(&mut self, to: Nanos) -> Vec<WireByte> {
        assert!(to >= self.now, "time runs forward");
        let mut out = Vec::new();
        // The next character to end among all transmissions, while it ends by `to`.
        while let Some((i, end)) = self
            .txs
            .iter()
            .enumerate()
            .filter(|(_, t)| t.next < t.bytes.len())
            .map(|(i, t)| (i, t.byte_span(t.next, self.baud).1))
            .min_by_key(|&(i, end)| (end, i))
            .filter(|&(_, end)| end <= to)
        {
            let (start, _) = self.txs[i].byte_span(self.txs[i].next, self.baud);
            let from = self.txs[i].from;
            let overlapped = self
                .txs
                .iter()
                .any(|o| o.from != from && o.drive_start < end && start < o.drive_end);
            let t = &mut self.txs[i];
            let byte = t.bytes[t.next];
            t.next += 1;
            self.stats.bytes += 1;
            self.stats.carrying_ns += end - start.max(self.carried_until).min(end);
            self.carried_until = self.carried_until.max(end);
            t.frame_garbled |= overlapped;
            if overlapped {
                self.stats.garbled += 1;
            }
            if byte == 0 {
                self.stats.frames += 1;
                if t.frame_garbled {
                    self.stats.frames_garbled += 1;
                }
                t.frame_garbled = false;
            }
            let rx = if overlapped { Rx::Garbled } else { Rx::Byte(byte) };
            out.push(WireByte { end, from, rx });
        }
        self.txs.retain(|t| t.next < t.bytes.len() || t.drive_end > to);
        self.now = to;
        out
    }
}

/// What a receiver makes of the wire: frames, and garbage where a framing error hit a frame.
pub enum Received {
    /// A frame that passed COBS and CRC.
    Frame(OwnedFrame),
    /// A frame that did not (framing error, bad COBS, bad CRC).
    Garbage,
}

/// A UART receiver with the protocol's frame decoder: a framing error spoils the frame it hits.
#[derive(Default)]
pub struct Listener {
    decoder: FrameDecoder<MAX_WIRE>,
    spoiled: bool,
}

impl Listener {
    /// Feeds one character; returns a frame or garbage when a frame ends.
    pub fn feed(&mut self, rx: Rx) -> Option<Received> {
        match rx {
            Rx::Garbled => {
                self.spoiled = true;
                None
            }
            Rx::Byte(0) if self.spoiled => {
                self.spoiled = false;
                self.decoder.reset();
                Some(Received::Garbage)
            }
            Rx::Byte(b) => {
                let mut got = None;
                self.decoder.feed(&[b], |r| {
                    got = Some(match r {
                        Ok(f) => Received::Frame(f.to_owned()),
                        Err(_) => Received::Garbage,
                    })
                });
                got
            }
        }
    }
}

/// A line to emulate.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Seats on the line (ids `1 ..= seats`).
    pub seats: u16,
    /// Telemetry period.
    pub period_ns: Nanos,
    /// Line rate.
    pub baud: u32,
    /// Emulated time to run.
    pub duration_ns: Nanos,
    /// Seed of every random choice (boot instants, clock errors, command times).
    pub seed: u64,
    /// Seats that never boot (dead or not fitted).
    pub absent: Vec<SeatId>,
    /// Seats that boot late, at the given instant, instead of in the power-on storm.
    pub late_boot: Vec<(SeatId, Nanos)>,
    /// Queue `Failover` commands for random live seats (at most two per round interval).
    pub commands: bool,
}

impl Scenario {
    /// Every seat present and booting within the same millisecond, commands on.
    pub fn storm(seats: u16, period_ns: Nanos, baud: u32, duration_ns: Nanos, seed: u64) -> Self {
        Self {
            seats,
            period_ns,
            baud,
            duration_ns,
            seed,
            absent: Vec::new(),
            late_boot: Vec::new(),
            commands: true,
        }
    }
}

/// What a run measured.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Wire counters over the whole run.
    pub stats: Stats,
    /// Share of the steady-state time (after the first period) the wire carried characters.
    pub utilisation: f64,
    /// Seat frames transmitted.
    pub uplink_sent: u64,
    /// Seat frames the host received intact (and, in [`scheduled`], verified).
    pub uplink_received: u64,
    /// Commands delivered to (and verified by) their seat.
    pub commands_delivered: u64,
    /// Commands still queued or undelivered at the end.
    pub commands_lost: u64,
    /// Longest time from queueing a command to its last byte at the seat.
    pub worst_command_ns: Nanos,
    /// Seats whose telemetry the host verified within the last two periods of the run.
    pub seats_heard_at_end: u16,
}

impl Report {
    /// Share of seat frames lost on the wire.
    pub fn loss(&self) -> f64 {
        if self.uplink_sent == 0 {
            return 0.0;
        }
        1.0 - self.uplink_received as f64 / self.uplink_sent as f64
    }
}

/// Emulator driver-enable turnaround: the transceiver's enable time and the firmware's GPIO write
/// (within the protocol's [`hemiwatch_protocol::bus::TURNAROUND_NS`] budget).
pub const WIRE_TURNAROUND_NS: Nanos = 2_000;

const FIRST_SEAT: SeatId = 1;

fn key(seat: SeatId) -> SeatKey {
    let mut k = [0x5Au8; 16];
    k[..2].copy_from_slice(&seat.to_le_bytes());
    SeatKey(k)
}

/// A seat link and a host link with a session open, as after a handshake.
fn session(seat: SeatId) -> (SeatLink, HostLink) {
    let key = key(seat);
    let mut s = SeatLink::new(seat, &key, u32::from(seat));
    let mut h = HostLink::new(seat, Some(&key));
    let mut buf = [0u8; MAX_WIRE];
    let hello = s.encode(&Message::Hello(hello(seat)), &mut buf).unwrap().to_vec();
    let Some(Received::Frame(f)) = feed_all(&hello) else {
        panic!("hello")
    };
    let Message::Hello(got) = h.accept(&f.as_raw()).unwrap().message else {
        panic!("hello")
    };
    let answer = h
        .respond_to_hello(&got, u64::from(seat) << 8, &mut buf)
        .unwrap()
        .to_vec();
    let Some(Received::Frame(f)) = feed_all(&answer) else {
        panic!("session")
    };
    s.accept(&f.as_raw()).unwrap();
    (s, h)
}

fn feed_all(wire: &[u8]) -> Option<Received> {
    let mut l = Listener::default();
    wire.iter().filter_map(|&b| l.feed(Rx::Byte(b))).last()
}

fn hello(seat: SeatId) -> hemiwatch_protocol::Hello {
    hemiwatch_protocol::Hello {
        protocol_minor: hemiwatch_protocol::PROTOCOL_MINOR,
        firmware: hemiwatch_protocol::FirmwareVersion {
            major: 1,
            minor: 0,
            patch: 0,
        },
        board: hemiwatch_protocol::BoardKind::BlackPillF411,
        boot_id: u32::from(seat),
        counter: 0,
        sensors: 0b11,
        reset: hemiwatch_protocol::ResetCause::PowerOn,
        period_ms: 500,
    }
}

/// Today's sample: two temperatures, as sized by the protocol's budget.
fn telemetry() -> Message {
    let mut temps = heapless::Vec::new();
    temps.extend([4500, 3850]);
    Message::Telemetry(Telemetry {
        uptime_min: 600,
        flags: Default::default(),
        temps,
        supply_mv: 3300,
    })
}

/// A clock off by `ppm` parts per million: the seat's reading at true time `t`, and back.
#[derive(Copy, Clone, Debug)]
struct Clock {
    ppm: i64,
}

impl Clock {
    fn local(self, t: Nanos) -> Nanos {
        (t as i128 * (1_000_000 + self.ppm as i128) / 1_000_000) as Nanos
    }
    /// The first true instant at which the local clock reads at least `l`.
    fn global(self, l: Nanos) -> Nanos {
        let mut t = (l as i128 * 1_000_000 / (1_000_000 + self.ppm as i128)) as Nanos;
        while self.local(t) < l {
            t += 1;
        }
        t
    }
}

fn clock_error(rng: &mut SmallRng) -> Clock {
    let max = hemiwatch_protocol::bus::CLOCK_TOLERANCE_PPM as i64;
    Clock {
        ppm: rng.random_range(-max..=max),
    }
}

/// Today's firmware on a shared wire: each seat sends its 24-byte telemetry every period of its
/// own clock from boot, all seats booting within the same millisecond. The boot `Hello`s (every
/// second until answered) are left out, and each seat's clock is off by up to ±1 %, which spreads
/// a storm faster than crystals would: both make this baseline kinder than the real thing.
pub fn aloha(sc: &Scenario) -> Report {
    let mut rng = SmallRng::seed_from_u64(sc.seed);
    let mut bus = Bus::new(sc.baud, WIRE_TURNAROUND_NS);
    // The host only listens: today's seats talk unasked.
    let _host = bus.attach();
    struct S {
        node: NodeId,
        link: SeatLink,
        clock: Clock,
        next: Nanos,
        k: u64,
        boot: Nanos,
    }
    let mut seats: Vec<S> = (0..sc.seats)
        .map(|i| FIRST_SEAT + i)
        .filter(|s| !sc.absent.contains(s))
        .map(|seat| {
            let boot = rng.random_range(0..1_000_000);
            S {
                node: bus.attach(),
                link: session(seat).0,
                clock: clock_error(&mut rng),
                next: boot,
                k: 0,
                boot,
            }
        })
        .collect();
    let mut report = Report::default();
    let mut listener = Listener::default();
    let mut buf = [0u8; MAX_WIRE];
    let mut steady_from = None;
    let mut deliver = |bytes: Vec<WireByte>, report: &mut Report| {
        for b in bytes {
            if let Some(Received::Frame(_)) = listener.feed(b.rx) {
                report.uplink_received += 1;
            }
        }
    };
    loop {
        let (i, t) = seats
            .iter()
            .enumerate()
            .map(|(i, s)| (i, s.next))
            .min_by_key(|&(i, t)| (t, i))
            .expect("at least one seat");
        if t >= sc.duration_ns {
            break;
        }
        let heard = bus.advance(t);
        deliver(heard, &mut report);
        if steady_from.is_none() && t >= sc.period_ns {
            steady_from = Some((t, bus.stats().carrying_ns));
        }
        let s = &mut seats[i];
        let wire = s.link.encode(&telemetry(), &mut buf).unwrap();
        bus.transmit(s.node, t, wire);
        report.uplink_sent += 1;
        s.k += 1;
        s.next = s.clock.global(s.clock.local(s.boot) + s.k * sc.period_ns);
    }
    // Everything already on its way lands within a frame time.
    let heard = bus.advance(sc.duration_ns + sc.period_ns);
    deliver(heard, &mut report);
    report.stats = bus.stats();
    if let Some((t0, c0)) = steady_from {
        report.utilisation = (report.stats.carrying_ns - c0) as f64 / (sc.duration_ns - t0) as f64;
    }
    report
}

struct SchedSeat {
    node: NodeId,
    link: SeatLink,
    hello: Vec<u8>,
    access: SeatAccess,
    clock: Clock,
    jitter: Nanos,
    boot: Nanos,
    booted: bool,
    in_session: bool,
    ack: Option<u32>,
    commit: Option<Nanos>,
}

/// The [`hemiwatch_protocol::bus`] scheme: a host opening rounds, seats taking turns, with ±1 %
/// clocks, up to [`JITTER_NS`] of transmit latency per seat, real authenticated frames, `Hello` in
/// each seat's first turn, `Failover` commands and their `Ack`s.
pub fn scheduled(sc: &Scenario) -> Report {
    let plan =
        Plan::new(FIRST_SEAT, sc.seats, sc.period_ns, sc.baud, FrameSizes::MEASURED).expect("line fits");
    let mut rng = SmallRng::seed_from_u64(sc.seed);
    let mut bus = Bus::new(sc.baud, WIRE_TURNAROUND_NS);
    let host_node = bus.attach();
    let mut host = HostScheduler::new(plan, 0);
    let mut host_links: Vec<HostLink> = Vec::new();
    let mut seats: Vec<SchedSeat> = Vec::new();
    for i in 0..sc.seats {
        let id = FIRST_SEAT + i;
        let (link, hlink) = session(id);
        host_links.push(hlink);
        let mut buf = [0u8; MAX_WIRE];
        let hello = SeatLink::new(id, &key(id), 7)
            .encode(&Message::Hello(hello(id)), &mut buf)
            .unwrap()
            .to_vec();
        let boot = match sc.late_boot.iter().find(|(s, _)| *s == id) {
            Some(&(_, at)) => at,
            None if sc.absent.contains(&id) => Nanos::MAX,
            None => rng.random_range(0..1_000_000),
        };
        seats.push(SchedSeat {
            node: bus.attach(),
            link,
            hello,
            access: SeatAccess::new(id, plan.timing),
            clock: clock_error(&mut rng),
            jitter: rng.random_range(0..=JITTER_NS),
            boot,
            booted: false,
            in_session: false,
            ack: None,
            commit: None,
        });
    }
    // Commands go to seats of the power-on storm, at random instants, at most two per round
    // interval (the bound's assumption), from the second period on.
    let live: Vec<usize> = (0..seats.len()).filter(|&i| seats[i].boot < 1_000_000).collect();
    let interval = plan.interval_ns();
    let mut next_command = if sc.commands && !live.is_empty() {
        2 * sc.period_ns
    } else {
        Nanos::MAX
    };
    let mut queue: VecDeque<(usize, Nanos)> = VecDeque::new();
    let mut awaiting: Vec<Option<Nanos>> = vec![None; seats.len()];
    let mut last_verified: Vec<Option<Nanos>> = vec![None; seats.len()];
    let mut report = Report::default();
    let mut listener = Listener::default();
    let mut buf = [0u8; MAX_WIRE];
    let mut steady_from = None;
    let mut t: Nanos = 0;
    while t < sc.duration_ns {
        if steady_from.is_none() && t >= sc.period_ns {
            steady_from = Some((t, bus.stats().carrying_ns));
        }
        // The wire up to now, heard by everyone who is up.
        for b in bus.advance(t) {
            for s in seats.iter_mut().filter(|s| s.booted) {
                s.access.on_byte(s.clock.local(b.end));
            }
            host.on_byte(b.end);
            let frame = match listener.feed(b.rx) {
                None => continue,
                Some(Received::Garbage) => {
                    for s in seats.iter_mut().filter(|s| s.booted) {
                        s.access.on_garbage(s.clock.local(b.end));
                    }
                    continue;
                }
                Some(Received::Frame(f)) => f,
            };
            let raw = frame.as_raw();
            let heard = Heard::of(&raw);
            for s in seats.iter_mut().filter(|s| s.booted) {
                s.access.on_frame(s.clock.local(b.end), heard);
            }
            host.on_frame(b.end, heard);
            let idx = usize::from(raw.header.seat.wrapping_sub(FIRST_SEAT));
            if idx >= seats.len() {
                continue;
            }
            match heard {
                Heard::Uplink(_) if raw.header.kind == MessageKind::Hello => report.uplink_received += 1,
                Heard::Uplink(_) if host_links[idx].accept(&raw).is_ok() => {
                    report.uplink_received += 1;
                    last_verified[idx] = Some(b.end);
                }
                Heard::Downlink if seats[idx].booted => {
                    if let Ok((counter, Message::Failover(_))) = seats[idx].link.accept(&raw) {
                        seats[idx].ack = Some(counter);
                        if let Some(queued) = awaiting[idx].take() {
                            report.commands_delivered += 1;
                            report.worst_command_ns = report.worst_command_ns.max(b.end - queued);
                        }
                    }
                }
                _ => {}
            }
        }
        for s in seats.iter_mut() {
            s.booted |= s.boot <= t;
        }
        while next_command <= t {
            // One command per seat in flight, so each delivery is matched to its queueing.
            let idx = live[rng.random_range(0..live.len())];
            if awaiting[idx].is_none() && !queue.iter().any(|&(i, _)| i == idx) {
                queue.push_back((idx, next_command));
            }
            next_command += rng.random_range(interval / 2..=interval);
            if next_command + sc.period_ns >= sc.duration_ns {
                // None in the last period: every command queued has the time to arrive.
                next_command = Nanos::MAX;
            }
        }
        let mut next = sc.duration_ns.min(next_command);
        // The host.
        if let HostAction::Open {
            commands,
            beacon,
            round,
        } = host.poll(t, queue.len())
        {
            let mut wire = Vec::new();
            for _ in 0..commands {
                let (idx, queued) = queue.pop_front().expect("poll counts the queue");
                let (_, w) = host_links[idx]
                    .encode(&Message::Failover(Failover { active: true }), &mut buf)
                    .expect("session open");
                wire.extend_from_slice(w);
                awaiting[idx] = Some(queued);
            }
            wire.extend_from_slice(beacon.encode(round, &mut buf).expect("beacon fits"));
            let end = bus.transmit(host_node, t, &wire);
            host.transmitted(end);
        }
        if let HostAction::Wait(until) = host.poll(t, queue.len()) {
            next = next.min(until);
        }
        // The seats.
        for s in seats.iter_mut().filter(|s| s.booted) {
            if s.commit.is_none() {
                match s.access.poll(s.clock.local(t)) {
                    SeatAction::Transmit => s.commit = Some(t + s.jitter),
                    SeatAction::Wait(Some(until)) => next = next.min(s.clock.global(until)),
                    SeatAction::Wait(None) => {}
                }
            }
            match s.commit {
                Some(at) if at <= t => {
                    s.commit = None;
                    s.access.transmitted();
                    let wire = match TurnContent::choose(s.in_session, s.ack.is_some(), false, false) {
                        TurnContent::Hello => {
                            // The host's `Session` answer is taken as given: the link was opened
                            // before the run.
                            s.in_session = true;
                            s.hello.clone()
                        }
                        TurnContent::Ack => {
                            let ack = Ack {
                                counter: s.ack.take().expect("chosen for it"),
                                of: MessageKind::Failover as u8,
                                status: AckStatus::Ok,
                            };
                            s.link.encode(&Message::Ack(ack), &mut buf).unwrap().to_vec()
                        }
                        TurnContent::Event | TurnContent::Telemetry => {
                            s.link.encode(&telemetry(), &mut buf).unwrap().to_vec()
                        }
                    };
                    bus.transmit(s.node, t, &wire);
                    report.uplink_sent += 1;
                }
                Some(at) => next = next.min(at),
                None => {}
            }
        }
        for s in seats.iter().filter(|s| !s.booted) {
            next = next.min(s.boot);
        }
        if let Some(e) = bus.next_event() {
            next = next.min(e);
        }
        t = next.max(t + 1);
    }
    bus.advance(t + sc.period_ns);
    report.stats = bus.stats();
    if let Some((t0, c0)) = steady_from {
        report.utilisation = (report.stats.carrying_ns - c0) as f64 / (sc.duration_ns - t0) as f64;
    }
    report.commands_lost = (queue.len() + awaiting.iter().flatten().count()) as u64;
    report.seats_heard_at_end = last_verified
        .iter()
        .flatten()
        .filter(|&&at| at + 2 * sc.period_ns >= sc.duration_ns)
        .count() as u16;
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    const BAUD: u32 = 115_200;

    fn byte(rx: Rx) -> u8 {
        match rx {
            Rx::Byte(b) => b,
            Rx::Garbled => panic!("garbled"),
        }
    }

    #[test]
    fn a_lone_frame_arrives_intact_after_its_time_on_the_wire() {
        let mut bus = Bus::new(BAUD, WIRE_TURNAROUND_NS);
        let a = bus.attach();
        let _b = bus.attach();
        let frame = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 0];
        let end = bus.transmit(a, 1_000, &frame);
        // 12 bytes × 10 bits / 115200 = 1.041667 ms, after the driver-enable turnaround.
        assert_eq!(end, 1_000 + WIRE_TURNAROUND_NS + 1_041_667);
        assert!(
            bus.advance(end - 1).len() < frame.len(),
            "the last byte is not there early"
        );
        let mut got: Vec<u8> = Vec::new();
        let mut bus = Bus::new(BAUD, WIRE_TURNAROUND_NS);
        let a = bus.attach();
        bus.transmit(a, 1_000, &frame);
        for b in bus.advance(end) {
            assert_eq!(b.from, a);
            got.push(byte(b.rx));
        }
        assert_eq!(got, frame);
        let s = bus.stats();
        assert_eq!((s.bytes, s.frames, s.collisions, s.garbled), (12, 1, 0, 0));
        assert_eq!(s.carrying_ns, 1_041_667);
    }

    #[test]
    fn overlapping_frames_collide_and_everyone_sees_garbage() {
        let mut bus = Bus::new(BAUD, WIRE_TURNAROUND_NS);
        let a = bus.attach();
        let b = bus.attach();
        let wire = [7u8; 11].into_iter().chain([0]).collect::<Vec<_>>();
        bus.transmit(a, 0, &wire);
        // b starts while a's sixth byte is on the wire.
        bus.transmit(b, 500_000, &wire);
        assert_eq!(bus.stats().collisions, 1);
        let heard = bus.advance(10_000_000);
        let mut listener = Listener::default();
        let frames: Vec<bool> = heard
            .iter()
            .filter_map(|w| listener.feed(w.rx))
            .map(|r| matches!(r, Received::Frame(_)))
            .collect();
        // a's delimiter is garbled, so receivers see one merged garbage frame and nothing intact.
        assert_eq!(frames, [false], "no frame survives");
        assert!(
            heard.iter().take(5).all(|w| w.rx != Rx::Garbled),
            "before the overlap, clean"
        );
        let s = bus.stats();
        assert_eq!((s.frames, s.frames_garbled), (2, 2));
        assert!(
            s.garbled >= 12,
            "the overlapped characters of both: {}",
            s.garbled
        );
    }

    #[test]
    fn frames_separated_by_the_gap_do_not_collide() {
        let timing = hemiwatch_protocol::bus::Timing::new(BAUD);
        let mut bus = Bus::new(BAUD, WIRE_TURNAROUND_NS);
        let a = bus.attach();
        let b = bus.attach();
        let wire = [3u8; 23].into_iter().chain([0]).collect::<Vec<_>>();
        let end = bus.transmit(a, 0, &wire);
        bus.transmit(b, end + timing.gap_ns, &wire);
        bus.advance(10_000_000);
        let s = bus.stats();
        assert_eq!(
            (s.collisions, s.garbled, s.frames, s.frames_garbled),
            (0, 0, 2, 0)
        );
    }

    #[test]
    fn driver_turnaround_alone_is_a_collision() {
        // b enables its driver while a still holds the bus after its stop bit.
        let mut bus = Bus::new(BAUD, WIRE_TURNAROUND_NS);
        let a = bus.attach();
        let b = bus.attach();
        let end = bus.transmit(a, 0, &[1, 0]);
        bus.transmit(b, end + WIRE_TURNAROUND_NS / 2, &[2, 0]);
        bus.advance(10_000_000);
        assert_eq!(bus.stats().collisions, 1);
        assert_eq!(bus.stats().garbled, 0, "no character overlapped");
    }
}
