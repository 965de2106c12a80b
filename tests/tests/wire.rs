//! Nodes on the real-time wire ([`hemiwatch_tests::wire`]): a transmitter that talks when its own
//! timer says so (today's ALOHA behaviour, as a raw pty and as the real firmware in QEMU)
//! collides and the wire counts it; nodes following the [`hemiwatch_protocol::bus`] scheme in
//! real time — a host thread beaconing rounds, seat threads speaking after their silences, each
//! on its own pty — share the same wire with no collision.
//!
//! The wire runs at 1200 baud: a character is 8.3 ms, so the scheme's `slot` (23.5 ms) leaves
//! 15 ms between "I must have heard my predecessor's first byte" and "my wait ends", against the
//! few ms of pty latency and scheduler jitter of a loaded 2-core machine (see the wire's docs).
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hemiwatch_protocol::bus::{
    bytes_ns, FrameSizes, Heard, HostAction, HostScheduler, Plan, SeatAccess, SeatAction,
};
use hemiwatch_protocol::{FrameDecoder, Message, SeatId, SeatLink, MAX_WIRE};
use hemiwatch_tests::harness::{line_toml, seat_toml, Daemon};
use hemiwatch_tests::qemu::{QemuSeat, Uart};
use hemiwatch_tests::wire::{Port, Wire, WireStats};

const BAUD: u32 = 1200;
const SEATS: u16 = 3;
/// Two rounds per period, 1.25 s apart: a round of two 30-byte `Hello`s takes 0.9 s, and the
/// plan budgets the command window's two ping answers riding behind telemetry (1.17 s in all).
const PERIOD: Duration = Duration::from_millis(2_500);
/// Two and a half periods: every seat gets at least two turns.
const RUN: Duration = Duration::from_millis(6_250);
/// Jitter budget of a line of QEMU seats on the wire, µs: above the hub's worst lateness seen
/// (23 ms, see `hemiwatch_tests::wire`), so no delivery stall inside a frame looks like a turn's end.
const QEMU_JITTER_US: u16 = 30_000;

fn hello_frame(seat: SeatId) -> Vec<u8> {
    let key = hemiwatch::testkit::seat_key(seat);
    let hello = hemiwatch_protocol::Hello {
        protocol_minor: hemiwatch_protocol::PROTOCOL_MINOR,
        firmware: hemiwatch_protocol::FirmwareVersion {
            major: 1,
            minor: 0,
            patch: 0,
        },
        board: hemiwatch_protocol::BoardKind::QemuLm3s6965,
        boot_id: u32::from(seat),
        counter: 0,
        sensors: 1,
        reset: hemiwatch_protocol::ResetCause::PowerOn,
        period_ms: PERIOD.as_millis() as u16,
    };
    let mut buf = [0u8; MAX_WIRE];
    SeatLink::new(seat, &key, u32::from(seat))
        .encode(&Message::Hello(hello), &mut buf)
        .expect("a Hello fits a frame")
        .to_vec()
}

fn nanos(epoch: Instant, t: Instant) -> u64 {
    t.saturating_duration_since(epoch).as_nanos() as u64
}

/// A seat following the scheme on its own port: silent until a beacon of its round, then one
/// `Hello` after its silence; returns how many it sent.
fn seat(id: SeatId, plan: Plan, port: Port, epoch: Instant, stop: Arc<AtomicBool>) -> u64 {
    let mut port = port;
    let mut access = SeatAccess::new(id, plan.timing);
    let mut decoder = FrameDecoder::<MAX_WIRE>::default();
    let frame = hello_frame(id);
    let mut sent = 0;
    while !stop.load(Ordering::Relaxed) {
        let now = nanos(epoch, Instant::now());
        let wait = match access.poll(now) {
            SeatAction::Transmit => {
                port.write(&frame).expect("write to the wire");
                access.transmitted();
                sent += 1;
                continue;
            }
            SeatAction::Wait(Some(at)) => Duration::from_nanos(at.saturating_sub(now)),
            SeatAction::Wait(None) => Duration::from_millis(50),
        };
        if let Some((t, bytes)) = port.recv(wait) {
            let t = nanos(epoch, t);
            access.on_byte(t);
            decoder.feed(&bytes, |r| match r {
                Ok(f) => access.on_frame(t, Heard::of(&f)),
                Err(_) => access.on_garbage(t),
            });
        }
    }
    sent
}

/// The host following the scheme: beacons on schedule and after each round's chain; returns the
/// seat frames it heard intact, per seat id.
fn host(plan: Plan, port: Port, epoch: Instant, stop: Arc<AtomicBool>) -> Vec<u64> {
    let mut port = port;
    let mut sched = HostScheduler::new(plan, nanos(epoch, Instant::now()));
    let mut decoder = FrameDecoder::<MAX_WIRE>::default();
    let mut heard = vec![0u64; usize::from(plan.first_seat + plan.seats)];
    let mut buf = [0u8; MAX_WIRE];
    while !stop.load(Ordering::Relaxed) {
        let now = nanos(epoch, Instant::now());
        let wait = match sched.poll(now, 0) {
            HostAction::Open { beacon, round, .. } => {
                let wire = beacon.encode(round, &mut buf).expect("a beacon fits a frame");
                let len = wire.len() as u64;
                port.write(wire).expect("write to the wire");
                // The wire clocks it out: its last stop bit ends len character times from now.
                sched.transmitted(now + bytes_ns(len, plan.timing.baud));
                continue;
            }
            HostAction::Wait(at) => {
                Duration::from_nanos(at.saturating_sub(now)).min(Duration::from_millis(50))
            }
        };
        if let Some((t, bytes)) = port.recv(wait) {
            let t = nanos(epoch, t);
            sched.on_byte(t);
            decoder.feed(&bytes, |r| {
                if let Ok(f) = r {
                    let h = Heard::of(&f);
                    if let Heard::Uplink(s) = h {
                        if let Some(n) = heard.get_mut(usize::from(s)) {
                            *n += 1;
                        }
                    }
                    sched.on_frame(t, h);
                }
            });
        }
    }
    heard
}

/// What one line run measured.
struct Line {
    stats: WireStats,
    /// Frames each seat sent (index: seat id − 1).
    sent: Vec<u64>,
    /// Seat frames the host heard intact (index: seat id).
    heard: Vec<u64>,
}

/// A host and [`SEATS`] seats following the scheme for [`RUN`], each on its own pty on one
/// wire; with `rogue`, also a raw pty sending a valid `Hello` of seat 9 every `rogue` on its own
/// timer, as today's firmware does.
fn line(rogue: Option<Duration>) -> Line {
    let plan =
        Plan::new(1, SEATS, PERIOD.as_nanos() as u64, BAUD, FrameSizes::MEASURED).expect("the line fits");
    let mut wire = Wire::new(BAUD).expect("wire");
    let epoch = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let mut open = |name: &str| {
        let (_, path) = wire.pty(name).expect("pty");
        Port::open(&path).expect("port")
    };
    let host_port = open("host");
    let seat_ports: Vec<Port> = (1..=SEATS).map(|s| open(&format!("seat{s}"))).collect();
    let mut rogue_port = rogue.map(|_| open("rogue"));
    let seats: Vec<_> = seat_ports
        .into_iter()
        .zip(1..)
        .map(|(p, id)| {
            let stop = stop.clone();
            std::thread::spawn(move || seat(id, plan, p, epoch, stop))
        })
        .collect();
    let host = {
        let stop = stop.clone();
        std::thread::spawn(move || host(plan, host_port, epoch, stop))
    };
    let frame = hello_frame(9);
    while epoch.elapsed() < RUN {
        match (&mut rogue_port, rogue) {
            (Some(p), Some(every)) => {
                p.write(&frame).expect("rogue writes");
                std::thread::sleep(every);
            }
            _ => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    stop.store(true, Ordering::Relaxed);
    let sent = seats
        .into_iter()
        .map(|t| t.join().expect("seat thread"))
        .collect();
    let heard = host.join().expect("host thread");
    Line {
        stats: wire.stats(),
        sent,
        heard,
    }
}

#[test]
fn nodes_following_the_scheme_share_the_wire_without_a_collision() {
    let l = line(None);
    println!(
        "scheme, {SEATS} seats + host at {BAUD} baud for {RUN:?}: sent {:?}, host heard {:?}, {} collisions, \
         {} garbled, hub lateness max {:?} ({} chars > 1 ms late of {})",
        l.sent,
        &l.heard[1..],
        l.stats.collisions,
        l.stats.garbled(),
        l.stats.late_max,
        l.stats.late_over_1ms,
        l.stats.delivered
    );
    assert_eq!(l.stats.collisions, 0, "{:#?}", l.stats);
    assert_eq!(l.stats.garbled(), 0);
    for (i, &sent) in l.sent.iter().enumerate() {
        assert!(sent >= 2, "seat {} took {sent} turns", i + 1);
        assert_eq!(l.heard[i + 1], sent, "seat {}: the host heard every frame", i + 1);
    }
}

#[test]
fn a_free_running_transmitter_collides_with_the_scheme_and_the_wire_counts_it() {
    let l = line(Some(Duration::from_millis(700)));
    let rogue = l.stats.nodes.last().expect("rogue node");
    println!(
        "scheme + rogue every 700 ms at {BAUD} baud for {RUN:?}: {} collisions (rogue {}), {} garbled chars, \
         seats sent {:?}, host heard {:?}",
        l.stats.collisions,
        rogue.collisions,
        l.stats.garbled(),
        l.sent,
        &l.heard[1..]
    );
    assert_eq!(rogue.name, "rogue");
    assert!(rogue.collisions >= 1, "{:#?}", l.stats);
    assert_eq!(
        rogue.collisions, l.stats.collisions,
        "every collision involves the rogue: the scheme's nodes never overlap each other"
    );
    assert!(rogue.garbled >= 1 && l.stats.garbled() > rogue.garbled);
    let lost: u64 = l.sent.iter().sum::<u64>() - l.heard.iter().sum::<u64>();
    assert!(
        lost >= 1,
        "the rogue spoiled no seat frame: {:?} vs {:?}",
        l.sent,
        l.heard
    );
}

#[test]
fn qemu_seats_booted_together_without_a_host_stay_silent() {
    // The power-on storm: three seats boot at once with no host beaconing. Today's firmware said
    // `Hello` every second on its own timer and collided here; a seat following the scheme waits
    // for a beacon of its round.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut wire = Wire::new(115_200).expect("wire");
    let mut seats = Vec::new();
    for id in 1..=3u16 {
        let link = dir.path().join(format!("seat{id}"));
        let key = hemiwatch::testkit::seat_key(id);
        let seat = QemuSeat::boot_with(Some((id, &key)), Uart::Daemon(&link)).expect("boot QEMU");
        wire.attach_qemu(&seat, Some(&link)).expect("attach");
        seats.push(seat);
    }
    // Two and a half of the old firmware's `Hello` periods.
    std::thread::sleep(Duration::from_millis(2500));
    let s = wire.stats();
    println!("3 QEMU seats, no host: {s:?}");
    assert!(seats.iter_mut().all(QemuSeat::is_running));
    assert_eq!(s.nodes.iter().map(|n| n.bytes).sum::<u64>(), 0, "{s:?}");
    assert_eq!(s.collisions, 0);
}

#[test]
fn a_simulated_line_and_the_daemon_talk_across_the_wire() {
    // `hemiwatch sim` (several seats, one process, one node) and the daemon, as the multi-seat
    // scenarios put them: every seat registers through the wire at the line's usual 115200 baud.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut wire = Wire::new(115_200).expect("wire");
    let (daemon_node, sim_node, _sim) = wire
        .simulated_line(dir.path(), "a", 1, 5, &[])
        .expect("simulated line");
    let mut body = line_toml("a", dir.path());
    for id in 1..=5 {
        body += &seat_toml(id, "a", None);
    }
    let daemon = Daemon::start(dir.path(), &body).expect("daemon");
    daemon
        .wait_frames(3, Duration::from_secs(20))
        .expect("every seat's frames reach the daemon");
    let s = wire.stats();
    println!("sim (5 seats) + daemon at 115200 baud: {s:?}");
    assert!(s.node(sim_node).frames >= 15, "{s:?}");
    assert!(
        s.node(daemon_node).frames >= 5,
        "the daemon answered every Hello over the wire: {s:?}"
    );
}

#[test]
fn several_qemu_seats_and_the_daemon_share_one_wire_without_a_collision() {
    // Three QEMU seats and the daemon as four processes on one wire. The line's jitter budget
    // (carried in every beacon) covers the hub's lateness between separate processes.
    let dir = tempfile::tempdir().expect("tempdir");
    let mut wire = Wire::new(115_200).expect("wire");
    let line = dir.path().join("line");
    let daemon_node = wire.daemon_line(&line).expect("daemon line");
    let mut body = format!(
        "[[line]]\nname = \"line\"\npath = \"{}\"\nbaud = 115200\njitter_us = {QEMU_JITTER_US}\n\n",
        line.display()
    );
    let mut seats = Vec::new();
    let mut nodes = Vec::new();
    for id in 1..=3u16 {
        let link = dir.path().join(format!("seat{id}"));
        let seat = QemuSeat::boot_with(Some((id, &hemiwatch::testkit::seat_key(id))), Uart::Daemon(&link))
            .expect("boot QEMU");
        nodes.push(wire.attach_qemu(&seat, Some(&link)).expect("attach"));
        seats.push(seat);
        body += &seat_toml(id, "line", None);
    }
    let daemon = Daemon::start(dir.path(), &body).expect("daemon");
    daemon
        .wait_frames(5, Duration::from_secs(30))
        .expect("every seat's session holds");
    let s = wire.stats();
    println!("3 QEMU seats + daemon on one wire at 115200 baud, jitter {QEMU_JITTER_US} µs: {s:?}");
    assert_eq!((s.collisions, s.garbled()), (0, 0), "{s:?}");
    assert!(s.node(daemon_node).frames >= 3, "the daemon beaconed: {s:?}");
    for n in nodes {
        assert!(s.node(n).frames >= 5, "{s:?}");
    }
}
