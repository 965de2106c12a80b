//! Host-side tests of the seat state machine: the test plays the host with the protocol crate's
//! `HostLink`, so every frame the seat sends is verified exactly as the daemon would.

use std::collections::VecDeque;
use std::vec::Vec;

use embedded_hal_mock::eh1::i2c::{Mock, Transaction};
use hemiwatch_protocol::bus::{FrameSizes, Heard, HostAction, HostScheduler, Plan};
use hemiwatch_protocol::{
    Ack, AckStatus, BoardKind, Failover, FaultCode, Flags, FrameDecoder, Hello, HostLink, Identify, Message,
    MessageKind, Ping, ResetCause, SeatKey, SeatLink, SetConfig, MAX_WIRE, PROTOCOL_MINOR,
};

use super::*;
use crate::tmp105::Tmp105;

const SEAT: u16 = 42;
const KEY: SeatKey = SeatKey([0x5A; 16]);

/// A serial port: bytes the host wrote wait in `rx`, bytes the seat wrote land in `tx`.
#[derive(Default)]
struct Port {
    rx: VecDeque<u8>,
    tx: Vec<u8>,
    broken: bool,
}

impl embedded_io::ErrorType for Port {
    type Error = embedded_io::ErrorKind;
}

impl Read for Port {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let n = buf.len().min(self.rx.len());
        for b in buf.iter_mut().take(n) {
            *b = self.rx.pop_front().unwrap_or(0);
        }
        Ok(n)
    }
}

impl ReadReady for Port {
    fn read_ready(&mut self) -> Result<bool, Self::Error> {
        Ok(!self.rx.is_empty())
    }
}

impl Write for Port {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        if self.broken {
            return Err(embedded_io::ErrorKind::Other);
        }
        self.tx.extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// A thermometer the test sets directly.
struct Fake(Result<i16, ()>);

impl Thermometer for Fake {
    fn read_centi(&mut self) -> Result<i16, ()> {
        self.0
    }
}

/// Telemetry period of the test host's line (its round period), µs.
const PERIOD_US: u64 = 1_000_000;

/// A test host on a line of two seats (this seat first, so it speaks in round 0): beacons with
/// the real [`HostScheduler`], queues commands ahead of the beacons as the daemon does, and
/// verifies every frame the seat sends with `HostLink`. The wire is instantaneous: what one side
/// writes, the other hears at the same instant.
struct Rig<S> {
    seat: Seat<S>,
    port: Port,
    host: HostLink,
    dec: FrameDecoder<MAX_WIRE>,
    /// Test time, µs.
    now: u64,
    /// Every verified uplink message, with the test time (µs) it was read at.
    log: Vec<(u64, Message)>,
    sched: HostScheduler,
    /// Whether the host beacons (false: a line without a host).
    beaconing: bool,
    /// Downlink frames waiting for the next round opening.
    queue: VecDeque<Vec<u8>>,
}

fn boot(reset: ResetCause, provisioned: bool) -> BootInfo {
    BootInfo {
        board: BoardKind::QemuLm3s6965,
        reset,
        boot_id: 0xB007_1D00,
        provisioned,
    }
}

fn plan() -> Plan {
    Plan::new(SEAT, 2, PERIOD_US * 1_000, DEFAULT_BAUD, FrameSizes::MEASURED).unwrap()
}

impl Rig<Fake> {
    fn new() -> Self {
        Self::with(Fake(Ok(2_500)), boot(ResetCause::PowerOn, true), 0)
    }
}

impl<S: Thermometer> Rig<S> {
    fn with(sensor: S, boot: BootInfo, start: u64) -> Self {
        Self {
            seat: Seat::new(SEAT, &KEY, boot, sensor),
            port: Port::default(),
            host: HostLink::new(SEAT, Some(&KEY)),
            dec: FrameDecoder::new(),
            now: start,
            log: Vec::new(),
            sched: HostScheduler::new(plan(), start * 1_000).with_epoch(7),
            beaconing: true,
            queue: VecDeque::new(),
        }
    }

    /// Runs seat and host for `ms`, waking at the seat's `next_wakeup`, the host's next round
    /// opening and every 10 ms; returns the messages the seat sent meanwhile.
    fn run(&mut self, ms: u64) -> Vec<Message> {
        let end = self.now + ms * 1_000;
        let mut out = Vec::new();
        while self.now < end {
            let mut host_next = u64::MAX;
            if self.beaconing {
                match self.sched.poll(self.now * 1_000, self.queue.len()) {
                    HostAction::Open {
                        commands,
                        beacon,
                        round,
                    } => {
                        for _ in 0..commands {
                            let wire = self.queue.pop_front().unwrap();
                            self.port.rx.extend(wire);
                        }
                        let mut buf = [0u8; MAX_WIRE];
                        self.port
                            .rx
                            .extend(beacon.encode(round, &mut buf).unwrap().iter().copied());
                        self.sched.transmitted(self.now * 1_000);
                    }
                    HostAction::Wait(at) => host_next = at.div_ceil(1_000),
                }
            }
            self.seat.poll(self.now, &mut self.port);
            let tx = core::mem::take(&mut self.port.tx);
            let (host, sched, now) = (&mut self.host, &mut self.sched, self.now);
            self.dec.feed(&tx, |f| {
                let f = f.expect("the seat sends well-formed frames");
                sched.on_frame(now * 1_000, Heard::of(&f));
                let v = host.accept(&f).expect("every seat frame verifies at the host");
                out.push((now, v.message));
            });
            let next = self
                .seat
                .next_wakeup()
                .min(host_next)
                .min(self.now + 10_000)
                .min(end);
            self.now = next.max(self.now + 1);
        }
        self.log.extend(out.iter().cloned());
        out.into_iter().map(|(_, m)| m).collect()
    }

    /// Boots until the first Hello, answers it, and runs until the first telemetry confirms it.
    fn handshake(&mut self) {
        let hello = loop {
            if let Some(Message::Hello(h)) = self.run(10).into_iter().next() {
                break h;
            }
            assert!(self.now < 10_000_000, "no hello");
        };
        let mut buf = [0u8; MAX_WIRE];
        let wire = self
            .host
            .respond_to_hello(&hello, 0x1234_5678_9ABC_DEF0, &mut buf)
            .unwrap();
        self.queue.push_back(wire.to_vec());
        let t = self.run(2 * PERIOD_US / 1_000 + 20);
        assert!(self.seat.has_session());
        assert!(t.iter().any(|m| matches!(m, Message::Telemetry(_))), "{t:?}");
        assert!(self.host.has_session());
    }

    /// Queues a command for the next round opening; returns the host counter it carries (what
    /// the Ack must echo) and the wire.
    fn command(&mut self, msg: Message) -> (u32, Vec<u8>) {
        let mut buf = [0u8; MAX_WIRE];
        let (counter, wire) = self.host.encode(&msg, &mut buf).unwrap();
        self.queue.push_back(wire.to_vec());
        (counter, wire.to_vec())
    }

    /// Runs until the seat sends an `Ack` (at most 5 s); returns everything it sent meanwhile.
    fn until_ack(&mut self) -> Vec<Message> {
        let mut all = Vec::new();
        for _ in 0..500 {
            let msgs = self.run(10);
            let done = !acks(&msgs).is_empty();
            all.extend(msgs);
            if done {
                return all;
            }
        }
        panic!("no ack: {all:?}")
    }
}

fn telemetry(msgs: &[Message]) -> Vec<&Telemetry> {
    msgs.iter()
        .filter_map(|m| match m {
            Message::Telemetry(t) => Some(t),
            _ => None,
        })
        .collect()
}

fn acks(msgs: &[Message]) -> Vec<&Ack> {
    msgs.iter()
        .filter_map(|m| match m {
            Message::Ack(a) => Some(a),
            _ => None,
        })
        .collect()
}

fn events(msgs: &[Message]) -> Vec<(FaultCode, i16)> {
    msgs.iter()
        .filter_map(|m| match m {
            Message::Event(e) => Some((e.code, e.detail)),
            _ => None,
        })
        .collect()
}

#[test]
fn says_hello_every_second_until_a_session_then_sends_telemetry_each_period() {
    let mut r = Rig::new();
    let before = r.run(2_500);
    assert_eq!(
        before.len(),
        3,
        "hello in every turn (0, 1 and 2 s), no telemetry without a session: {before:?}"
    );
    let Message::Hello(h) = &before[0] else {
        panic!("{before:?}")
    };
    assert_eq!(h.boot_id, 0xB007_1D00);
    assert_eq!(h.board, BoardKind::QemuLm3s6965);
    assert_eq!(h.reset, ResetCause::PowerOn);
    assert_eq!(h.period_ms, DEFAULT_PERIOD_MS);
    assert_eq!(h.firmware, crate::FIRMWARE_VERSION);
    r.handshake();
    let after = r.run(3_000);
    let t = telemetry(&after);
    assert_eq!(t.len(), 3, "one per round period: {after:?}");
    assert_eq!(
        after.len(),
        3,
        "nothing but telemetry while the host is there: {after:?}"
    );
    assert!(t
        .iter()
        .all(|t| t.temps.as_slice() == [2_500] && t.flags == Flags::default()));
}

#[test]
fn silent_without_a_beacon_yet_measuring_and_tripping() {
    let mut r = Rig::new();
    r.beaconing = false;
    let msgs = r.run(10_000);
    assert!(msgs.is_empty(), "no beacon, no transmission: {msgs:?}");
    assert!(r.port.tx.is_empty());
    r.seat.sensor_mut().0 = Ok(9_500);
    r.run(4_000);
    assert!(r.seat.safe_mode(), "the local trip needs no host");
    assert!(r.seat.healthy());
}

#[test]
fn answers_in_its_turn_after_the_right_silence() {
    use hemiwatch_protocol::bus::{Beacon, Timing};
    let t = Timing::new(DEFAULT_BAUD);
    let mut seat = Seat::new(SEAT, &KEY, boot(ResetCause::PowerOn, true), Fake(Ok(2_500)));
    let mut port = Port::default();
    seat.poll(1_000, &mut port);
    assert!(port.tx.is_empty());
    // A round of seats 40..44: seat 42 is third, after two positions.
    let mut buf = [0u8; MAX_WIRE];
    port.rx
        .extend(Beacon::new(40, 4).encode(0, &mut buf).unwrap().iter().copied());
    seat.poll(2_000, &mut port);
    let wait_us = (t.gap_ns + 2 * t.slot_ns).div_ceil(1_000);
    assert_eq!(
        seat.next_wakeup(),
        2_000 + wait_us,
        "gap + 2 slots from the beacon"
    );
    seat.poll(2_000 + wait_us - 1, &mut port);
    assert!(port.tx.is_empty(), "one µs early: silent");
    // Seat 40 speaks: the wait restarts from its last byte, one slot less.
    let mut other = SeatLink::new(40, &SeatKey([1; 16]), 1);
    port.rx
        .extend(other.encode(&hello_msg(), &mut buf).unwrap().iter().copied());
    let heard = 2_000 + wait_us - 1;
    seat.poll(heard, &mut port);
    assert!(port.tx.is_empty(), "another seat's frame is not for this seat");
    let wait_us = (t.gap_ns + t.slot_ns).div_ceil(1_000);
    assert_eq!(seat.next_wakeup(), heard + wait_us);
    seat.poll(heard + wait_us, &mut port);
    let mut sent = Vec::new();
    FrameDecoder::<MAX_WIRE>::new().feed(&port.tx, |f| sent.push(f.unwrap().header));
    assert_eq!(sent.len(), 1, "one frame per turn");
    assert_eq!((sent[0].seat, sent[0].kind), (SEAT, MessageKind::Hello));
    port.tx.clear();
    seat.poll(heard + 10 * PERIOD_US, &mut port);
    assert!(port.tx.is_empty(), "one turn per beacon");
}

/// A Hello as another seat would send it (its link fills in the boot id and counter).
fn hello_msg() -> Message {
    Message::Hello(Hello {
        protocol_minor: PROTOCOL_MINOR,
        firmware: crate::FIRMWARE_VERSION,
        board: BoardKind::Simulated,
        boot_id: 0,
        counter: 0,
        sensors: 1,
        reset: ResetCause::PowerOn,
        period_ms: 1_000,
    })
}

#[test]
fn a_power_on_storm_answers_in_seat_order_and_never_overlaps() {
    // Eight seats boot in the same microsecond on one line; the host beacons one round of 8.
    let timing = hemiwatch_protocol::bus::Timing::new(DEFAULT_BAUD);
    let mut seats: Vec<(Seat<Fake>, Port)> = (0..8u16)
        .map(|i| {
            let b = BootInfo {
                boot_id: u32::from(i),
                ..boot(ResetCause::PowerOn, true)
            };
            (Seat::new(10 + i, &KEY, b, Fake(Ok(2_500))), Port::default())
        })
        .collect();
    let mut buf = [0u8; MAX_WIRE];
    let beacon = hemiwatch_protocol::bus::Beacon::new(10, 8);
    let wire = beacon.encode(0, &mut buf).unwrap().to_vec();
    let mut now = 0u64;
    for (s, p) in &mut seats {
        s.poll(now, p);
        p.rx.extend(wire.iter().copied());
        s.poll(now, p);
    }
    // Run the wire: at every step, whoever's wait is over transmits, the others hear it.
    let mut order: Vec<(u64, u16)> = Vec::new();
    while now < 100_000 {
        now = seats.iter().map(|(s, _)| s.next_wakeup()).min().unwrap();
        let mut talkers = Vec::new();
        for (i, (s, p)) in seats.iter_mut().enumerate() {
            s.poll(now, p);
            if !p.tx.is_empty() {
                talkers.push((i, core::mem::take(&mut p.tx)));
            }
        }
        assert!(talkers.len() <= 1, "two talkers at {now} µs: {:?}", talkers.len());
        if let Some((i, tx)) = talkers.pop() {
            FrameDecoder::<MAX_WIRE>::new().feed(&tx, |f| {
                let h = f.unwrap().header;
                assert_eq!(h.kind, MessageKind::Hello);
                order.push((now, h.seat));
            });
            // The frame takes its time on the wire; everyone else hears it at its end.
            let end = now + timing.frame_ns(tx.len()).div_ceil(1_000);
            for (j, (s, p)) in seats.iter_mut().enumerate() {
                if j != i {
                    p.rx.extend(tx.iter().copied());
                    s.poll(end, p);
                }
            }
        }
    }
    let ids: Vec<u16> = order.iter().map(|(_, id)| *id).collect();
    assert_eq!(
        ids,
        (10..18).collect::<Vec<_>>(),
        "every seat once, in id order: {order:?}"
    );
}

/// A ping's answer rides behind the telemetry of the seat's next turn: the host pings a seat
/// whose telemetry is overdue, and an answer in a turn of its own cost that seat one more
/// telemetry (one frame lost on the line looked like three periods without telemetry; the
/// black-channel scenario raised `telemetry_missing` on 10 % loss). One answer, for the latest
/// ping. Failed when the answer was queued as an `Ack` of its own.
#[test]
fn a_pings_answer_rides_behind_telemetry_in_the_same_turn() {
    let mut r = Rig::new();
    r.handshake();
    let (_, _) = r.command(Message::Ping(Ping {}));
    let (c2, _) = r.command(Message::Ping(Ping {}));
    let msgs = r.run(1_000);
    assert!(
        matches!(msgs.as_slice(), [Message::Telemetry(_), Message::Ack(_)]),
        "telemetry, then the answer, in one turn: {msgs:?}"
    );
    assert_eq!(
        *acks(&msgs)[0],
        Ack {
            counter: c2,
            of: MessageKind::Ping as u8,
            status: AckStatus::Ok
        },
        "the latest ping's"
    );
    let msgs = r.run(1_000);
    assert_eq!(telemetry(&msgs).len(), 1, "{msgs:?}");
    assert!(acks(&msgs).is_empty(), "answered once: {msgs:?}");
}

#[test]
fn a_command_is_acked_with_its_counter_one_ack_per_turn() {
    let mut r = Rig::new();
    r.handshake();
    let (c1, _) = r.command(Message::Identify(Identify { seconds: 1 }));
    let (c2, _) = r.command(Message::Identify(Identify { seconds: 2 }));
    let msgs = r.run(1_000);
    assert_eq!(msgs.len(), 1, "one frame per turn: {msgs:?}");
    let a = acks(&msgs);
    assert_eq!(
        *a[0],
        Ack {
            counter: c1,
            of: MessageKind::Identify as u8,
            status: AckStatus::Ok
        }
    );
    // Telemetry takes every other turn at least: only telemetry proves the seat alive, and a
    // host re-sending commands must not starve it.
    let msgs = r.run(1_000);
    assert_eq!(telemetry(&msgs).len(), 1, "telemetry between two acks: {msgs:?}");
    let msgs = r.run(1_000);
    assert_eq!(acks(&msgs).len(), 1, "{msgs:?}");
    assert_eq!(acks(&msgs)[0].counter, c2);
    assert_eq!(telemetry(&r.run(1_000)).len(), 1, "then telemetry again");
}

#[test]
fn a_stream_of_commands_never_starves_telemetry() {
    let mut r = Rig::new();
    r.handshake();
    let mut sent = Vec::new();
    for _ in 0..10 {
        // A command every period (a host re-ordering a failover): an Ack is always pending.
        r.command(Message::Failover(Failover { active: true }));
        sent.extend(r.run(1_000));
    }
    let (t, a) = (telemetry(&sent).len(), acks(&sent).len());
    assert!(
        t >= 5,
        "telemetry in at least every other turn: {t} of {} ({a} acks)",
        sent.len()
    );
    assert!(a >= 4, "the acks still go: {a}");
    // A ping every period costs telemetry nothing.
    let mut r = Rig::new();
    r.handshake();
    let mut sent = Vec::new();
    for _ in 0..10 {
        r.command(Message::Ping(Ping {}));
        sent.extend(r.run(1_000));
    }
    assert!(telemetry(&sent).len() >= 9, "telemetry in every turn: {sent:?}");
}

#[test]
fn set_config_is_applied_or_rejected_with_an_event() {
    let mut r = Rig::new();
    r.handshake();
    let ok = SetConfig {
        period_ms: 200,
        trip_centi: 7_000,
        trip_samples: 2,
    };
    let (c, _) = r.command(Message::SetConfig(ok));
    let msgs = r.run(2_000);
    assert_eq!(
        acks(&msgs),
        [&Ack {
            counter: c,
            of: MessageKind::SetConfig as u8,
            status: AckStatus::Ok
        }]
    );
    assert_eq!(r.seat.config().period_ms, 200);
    assert_eq!(r.seat.config().trip_centi, 7_000);

    for bad in [
        SetConfig {
            period_ms: 10,
            trip_centi: 7_000,
            trip_samples: 2,
        },
        SetConfig {
            period_ms: 500,
            trip_centi: 20_000,
            trip_samples: 2,
        },
        SetConfig {
            period_ms: 500,
            trip_centi: 7_000,
            trip_samples: 0,
        },
    ] {
        let (c, _) = r.command(Message::SetConfig(bad.clone()));
        // Ack, Event and at least one telemetry between them (telemetry every other turn).
        let msgs = r.run(4_000);
        let a = acks(&msgs);
        assert_eq!(a.len(), 1, "{bad:?}: {msgs:?}");
        assert_eq!((a[0].counter, a[0].status), (c, AckStatus::Rejected), "{bad:?}");
        assert!(events(&msgs)
            .iter()
            .any(|(code, _)| *code == FaultCode::CONFIG_REJECTED));
        assert_eq!(
            r.seat.config().period_ms,
            200,
            "a rejected config changes nothing"
        );
    }
}

#[test]
fn failover_is_obeyed_at_once_and_acked_in_the_next_turn() {
    let mut r = Rig::new();
    r.handshake();
    assert!(!r.seat.safe_mode());
    let (c, _) = r.command(Message::Failover(Failover { active: true }));
    // Step until the host's round opening delivered it: safe mode before the seat's turn.
    let mut msgs = Vec::new();
    while !r.seat.safe_mode() {
        msgs.extend(r.run(1));
        assert!(r.now < 10_000_000, "never delivered");
    }
    assert!(
        msgs.is_empty(),
        "safe mode before the seat said anything: {msgs:?}"
    );
    let next = loop {
        if let Some(m) = r.run(10).into_iter().next() {
            break m;
        }
    };
    assert_eq!(
        next,
        Message::Ack(Ack {
            counter: c,
            of: MessageKind::Failover as u8,
            status: AckStatus::Ok
        }),
        "the next turn carries the ack"
    );
    let t = r.run(2_000);
    let t = telemetry(&t);
    assert!(!t.is_empty() && t.iter().all(|t| t.flags.contains(Flags::FAILOVER_ACTIVE)));
    r.command(Message::Failover(Failover { active: false }));
    let msgs = r.run(2_100);
    assert!(!r.seat.safe_mode());
    assert!(telemetry(&msgs)
        .iter()
        .all(|t| !t.flags.contains(Flags::FAILOVER_ACTIVE)));
}

#[test]
fn a_replayed_command_is_not_obeyed_twice() {
    let mut r = Rig::new();
    r.handshake();
    let (_, wire) = r.command(Message::Failover(Failover { active: true }));
    assert_eq!(acks(&r.until_ack()).len(), 1);
    r.command(Message::Failover(Failover { active: false }));
    assert_eq!(acks(&r.until_ack()).len(), 1);
    // An attacker replays the captured "failover on": refused, no ack, seat stays out of safe mode.
    r.queue.push_back(wire);
    assert!(acks(&r.run(3_000)).is_empty());
    assert!(!r.seat.safe_mode());
}

#[test]
fn identify_sets_the_flag_for_the_requested_seconds() {
    let mut r = Rig::new();
    r.handshake();
    r.command(Message::Identify(Identify { seconds: 3 }));
    let msgs = r.until_ack();
    assert_eq!(acks(&msgs).len(), 1);
    assert!(r.seat.identify());
    let msgs = r.run(1_000);
    assert!(telemetry(&msgs).iter().all(|t| t.flags.contains(Flags::IDENTIFY)));
    r.run(3_100);
    assert!(!r.seat.identify());
}

#[test]
fn a_new_host_epoch_or_a_lost_host_means_hello_again() {
    let mut r = Rig::new();
    r.handshake();
    // The daemon restarts: its beacons carry another epoch, its link knows no session.
    r.sched = HostScheduler::new(plan(), r.now * 1_000).with_epoch(8);
    r.host = HostLink::new(SEAT, Some(&KEY));
    let msgs = r.run(1_000);
    assert!(
        matches!(msgs.first(), Some(Message::Hello(_))),
        "the first turn under a new epoch is a Hello: {msgs:?}"
    );
    r.handshake();
    // The host goes away: silence, then after HOST_TIMEOUT_MS without beacon the session ends.
    r.beaconing = false;
    assert!(r.run(HOST_TIMEOUT_MS + 100).is_empty());
    assert!(!r.seat.has_session(), "host lost");
    r.beaconing = true;
    r.sched = HostScheduler::new(plan(), r.now * 1_000).with_epoch(8);
    let msgs = r.run(1_000);
    assert!(matches!(msgs.first(), Some(Message::Hello(_))), "{msgs:?}");
    // A Session captured before the seat ended its session cannot reopen the old nonce.
    let mut r = Rig::new();
    let hello = loop {
        if let Some(Message::Hello(h)) = r.run(10).into_iter().next() {
            break h;
        }
    };
    let mut buf = [0u8; MAX_WIRE];
    let old = r.host.respond_to_hello(&hello, 1, &mut buf).unwrap().to_vec();
    r.queue.push_back(old.clone());
    r.run(2_000);
    assert!(r.seat.has_session());
    r.sched = HostScheduler::new(plan(), r.now * 1_000).with_epoch(9);
    r.run(1_000);
    assert!(!r.seat.has_session());
    r.queue.push_back(old);
    r.run(1_000);
    assert!(!r.seat.has_session(), "a replayed older Session is stale");
}

#[test]
fn local_trip_needs_n_consecutive_samples_and_releases_with_hysteresis() {
    let mut r = Rig::new();
    // Trip works with no host at all: no handshake here.
    let step = |r: &mut Rig<Fake>, centi: i16| {
        r.seat.sensor_mut().0 = Ok(centi);
        r.run(1_000);
        r.seat.flags().contains(Flags::LOCAL_TRIP)
    };
    r.run(10); // the boot sample
    assert!(!step(&mut r, 8_600));
    assert!(!step(&mut r, 8_600));
    assert!(!step(&mut r, 8_499), "a dip below the trip restarts the count");
    assert!(!step(&mut r, 8_500));
    assert!(!step(&mut r, 8_500));
    assert!(step(&mut r, 8_500), "3 samples at the trip: tripped");
    assert!(r.seat.safe_mode());
    for _ in 0..5 {
        assert!(step(&mut r, 8_001), "above trip − hysteresis: still tripped");
    }
    assert!(step(&mut r, 7_999));
    assert!(step(&mut r, 7_999));
    r.seat.sensor_mut().0 = Err(());
    r.run(1_000);
    assert!(
        r.seat.flags().contains(Flags::LOCAL_TRIP),
        "an unknown reading never releases"
    );
    assert!(step(&mut r, 7_999));
    assert!(step(&mut r, 7_999));
    assert!(
        !step(&mut r, 7_999),
        "3 consecutive samples below 80 °C: released"
    );
    assert!(!r.seat.safe_mode());
}

#[test]
fn trip_and_release_are_reported_as_events_and_flags() {
    let mut r = Rig::new();
    r.handshake();
    r.seat.sensor_mut().0 = Ok(9_500);
    let msgs = r.run(4_100);
    assert_eq!(events(&msgs), [(FaultCode::LOCAL_TRIP, 9_500)]);
    let t = telemetry(&msgs);
    assert!(t.last().unwrap().flags.contains(Flags::LOCAL_TRIP));
    assert!(t.last().unwrap().flags.safe_mode());
    r.seat.sensor_mut().0 = Ok(2_500);
    let msgs = r.run(4_100);
    assert_eq!(events(&msgs), [(FaultCode::LOCAL_TRIP_CLEARED, 2_500)]);
    assert!(!telemetry(&msgs).last().unwrap().flags.contains(Flags::LOCAL_TRIP));
}

#[test]
fn a_dead_sensor_is_a_fault_flag_and_an_event_never_a_value() {
    use embedded_hal::i2c::{ErrorKind, NoAcknowledgeSource};
    let nack = ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address);
    let a = crate::tmp105::DEFAULT_ADDRESS;
    let good = |raw: u16| {
        [
            Transaction::write(a, vec![0x00]),
            Transaction::read(a, raw.to_be_bytes().to_vec()),
        ]
    };
    // 12 bits, comparator mode, two faults (3 samples round down); T_LOW 80 °C, T_HIGH 85 °C.
    let configure = [
        Transaction::write(a, vec![0x01, 0x68]),
        Transaction::write(a, vec![0x02, 0x50, 0x00]),
        Transaction::write(a, vec![0x03, 0x55, 0x00]),
        Transaction::write(a, vec![0x01]),
        Transaction::read(a, vec![0x68]),
    ];
    let mut expect = configure.to_vec(); // boot sample: configure + read
    expect.extend(good(0x0000)); // 0 °C: no conversion yet, discarded
    expect.extend(good(0x1900)); // first telemetry after the handshake
    expect.push(Transaction::write(a, vec![0x00]).with_error(nack)); // unplugged
    expect.push(Transaction::write(a, vec![0x01, 0x68]).with_error(nack)); // still gone
    expect.extend(configure.clone()); // back: reconfigured, limits and all
    expect.extend(good(0x0000)); // restarted: its first reading is discarded
    expect.extend(good(0x4780));
    let mut i2c = Mock::new(&expect);
    let mut r = Rig::with(Tmp105::new(i2c.clone(), a), boot(ResetCause::PowerOn, true), 0);
    r.handshake();
    // Samples at 0..=5 s on the seat's timer; one turn a second, each after that second's sample.
    r.run(5_900 - r.now / 1_000);
    let sent: Vec<Message> = r.log.iter().map(|(_, m)| m.clone()).collect();
    let [Message::Hello(_), Message::Telemetry(t1), Message::Event(lost), Message::Telemetry(t3), Message::Event(back), Message::Telemetry(t5)] =
        &sent[..]
    else {
        panic!("{sent:?}")
    };
    assert_eq!(
        (t1.temps.as_slice(), t1.flags),
        ([2_500].as_slice(), Flags::default())
    );
    assert_eq!(
        lost.code,
        FaultCode::SENSOR_LOST,
        "the event takes the turn of its sample"
    );
    assert!(
        t3.flags.contains(Flags::SENSOR_FAULT) && t3.temps.is_empty(),
        "never a value"
    );
    assert_eq!(back.code, FaultCode::SENSOR_RECOVERED);
    assert!(!t5.flags.contains(Flags::SENSOR_FAULT));
    assert_eq!(
        t5.temps.as_slice(),
        [7_150],
        "the restarted part's 0 °C was not sent"
    );
    i2c.done();
}

#[test]
fn a_watchdog_reset_is_reported_in_hello_and_every_telemetry() {
    let mut r = Rig::with(Fake(Ok(3_000)), boot(ResetCause::Watchdog, true), 0);
    let first = r.run(10);
    let Some(Message::Hello(h)) = first.first() else {
        panic!("{first:?}")
    };
    assert_eq!(h.reset, ResetCause::Watchdog);
    r.handshake();
    let t = r.run(3_000);
    assert!(telemetry(&t)
        .iter()
        .all(|t| t.flags.contains(Flags::WATCHDOG_RESET)));
}

#[test]
fn an_unprovisioned_seat_says_so_once_the_host_listens() {
    let mut r = Rig::with(Fake(Ok(3_000)), boot(ResetCause::PowerOn, false), 0);
    r.handshake();
    let all: Vec<Message> = r.log.iter().map(|(_, m)| m.clone()).collect();
    assert_eq!(events(&all), [(FaultCode::UNPROVISIONED, 0)]);
}

#[test]
fn healthy_until_the_uart_stops_taking_bytes() {
    let mut r = Rig::new();
    r.handshake();
    assert!(r.seat.healthy());
    r.port.broken = true;
    r.run(3_000);
    assert!(r.seat.healthy(), "a few lost frames are not yet a reset");
    r.run(8_000);
    assert!(!r.seat.healthy(), "a wedged UART starves the watchdog");
    r.port.broken = false;
    r.run(1_100);
    assert!(r.seat.healthy());
}

#[test]
fn the_board_clock_may_start_anywhere() {
    let start = 1 << 40; // 12.7 days of µs
    let mut r = Rig::with(Fake(Ok(2_000)), boot(ResetCause::PowerOn, true), start);
    r.handshake();
    let msgs = r.run(5_000);
    assert_eq!(telemetry(&msgs).len(), 5, "{msgs:?}");
    assert!(r.seat.healthy());
    assert!(r.seat.next_wakeup() > start, "wake-ups are in board time");
}

#[test]
fn a_seat_may_boot_with_a_kept_configuration_but_never_an_invalid_one() {
    let kept = Config {
        period_ms: 500,
        trip_centi: 7_000,
        trip_samples: 2,
    };
    let mut rig = Rig::new();
    rig.seat = Seat::new(SEAT, &KEY, boot(ResetCause::PowerOn, true), Fake(Ok(2_500))).with_config(kept);
    assert_eq!(rig.seat.config(), kept);
    let hello = rig.run(10);
    assert!(
        matches!(hello.first(), Some(Message::Hello(h)) if h.period_ms == 500),
        "{hello:?}"
    );
    let invalid = Config {
        period_ms: MIN_PERIOD_MS - 1,
        ..kept
    };
    let seat = Seat::new(SEAT, &KEY, boot(ResetCause::PowerOn, true), Fake(Ok(2_500))).with_config(invalid);
    assert_eq!(seat.config(), Config::default());
}

#[test]
fn a_board_event_queued_at_boot_reaches_the_host_once_it_listens() {
    let mut r = Rig::new();
    r.seat.queue_event(FaultCode::CLOCK_FALLBACK, 0);
    let before = r.run(500);
    assert!(
        events(&before).is_empty(),
        "no event before a session: {before:?}"
    );
    r.handshake();
    let all: Vec<Message> = r.log.iter().map(|(_, m)| m.clone()).collect();
    assert_eq!(events(&all), [(FaultCode::CLOCK_FALLBACK, 0)]);
    assert_eq!(FaultCode::CLOCK_FALLBACK.name(), Some("clock_fallback"));
}

/// A thermometer that counts its reads and reports a restart on demand.
struct Counting {
    centi: Result<i16, ()>,
    reads: u32,
    restart: bool,
    limits: Vec<crate::tmp105::AlertLimits>,
}

impl Counting {
    fn at(centi: i16) -> Self {
        Self {
            centi: Ok(centi),
            reads: 0,
            restart: false,
            limits: Vec::new(),
        }
    }
}

impl Thermometer for Counting {
    fn read_centi(&mut self) -> Result<i16, ()> {
        self.reads += 1;
        self.centi
    }
    fn set_trip(&mut self, limits: crate::tmp105::AlertLimits) {
        self.limits.push(limits);
    }
    fn take_restarted(&mut self) -> bool {
        core::mem::take(&mut self.restart)
    }
}

#[test]
fn trip_samples_are_counted_per_conversion_not_per_poll() {
    let mut r = Rig::with(Counting::at(2_500), boot(ResetCause::PowerOn, true), 0);
    r.handshake();
    configure_period(&mut r, 50);
    r.seat.sensor_mut().centi = Ok(9_000);
    let reads = r.seat.sensor_mut().reads;
    // Three samples at 50 ms are one conversion: no trip.
    r.run(150);
    assert!(r.seat.sensor_mut().reads >= reads + 3);
    assert!(
        !r.seat.flags().contains(Flags::LOCAL_TRIP),
        "one conversion read 3 times"
    );
    // Three conversions take two conversion times after the first.
    r.run(u64::from(2 * crate::tmp105::CONVERSION_MAX_MS - 200));
    assert!(!r.seat.flags().contains(Flags::LOCAL_TRIP));
    r.run(200);
    assert!(
        r.seat.flags().contains(Flags::LOCAL_TRIP),
        "3 conversions ≥ 600 ms apart"
    );
}

/// Sets the period (trip and samples at their defaults) and lets the Ack through.
fn configure_period<S: Thermometer>(r: &mut Rig<S>, period_ms: u16) {
    r.command(Message::SetConfig(SetConfig {
        period_ms,
        trip_centi: DEFAULT_TRIP_CENTI,
        trip_samples: DEFAULT_TRIP_SAMPLES,
    }));
    let msgs = r.until_ack();
    assert_eq!(acks(&msgs)[0].status, AckStatus::Ok, "{msgs:?}");
}

#[test]
fn the_first_conversion_after_a_sensor_restart_is_discarded() {
    let mut r = Rig::with(Counting::at(0), boot(ResetCause::PowerOn, true), 0);
    r.handshake();
    configure_period(&mut r, 100);
    r.run(200);
    assert_eq!(r.seat.last_temp(), Some(0));
    r.seat.sensor_mut().restart = true; // as the TMP105 driver after (re)configuring the part
    r.run(100); // the next sample (100 ms period) reads the restarted part
    for _ in 0..(crate::tmp105::CONVERSION_MAX_MS - 300) / 10 {
        r.run(10);
        assert_eq!(
            r.seat.last_temp(),
            None,
            "the register's 0 °C before the first conversion is no reading"
        );
    }
    r.run(400);
    assert_eq!(r.seat.last_temp(), Some(0));
    // A value other than the reset value is a completed conversion, kept at once.
    r.seat.sensor_mut().restart = true;
    r.seat.sensor_mut().centi = Ok(2_100);
    r.run(110);
    assert_eq!(r.seat.last_temp(), Some(2_100));
    let t = r.run(1_000);
    assert_eq!(
        telemetry(&t)[0].temps.as_slice(),
        [2_100],
        "and sent in the next turn"
    );
}

#[test]
fn a_sensor_lost_while_hot_trips_and_keeps_the_trip() {
    let mut r = Rig::with(Counting::at(9_000), boot(ResetCause::PowerOn, true), 0);
    r.run(10); // one hot conversion
    r.seat.sensor_mut().centi = Err(());
    r.run(2_000);
    assert!(
        r.seat.flags().contains(Flags::LOCAL_TRIP) && r.seat.safe_mode(),
        "hot, then silent: assumed still hot"
    );
    r.run(10_000);
    assert!(
        r.seat.flags().contains(Flags::LOCAL_TRIP),
        "never released while unknown"
    );
    // A sensor lost while cool does not trip.
    let mut cool = Rig::with(Counting::at(2_500), boot(ResetCause::PowerOn, true), 0);
    cool.run(10);
    cool.seat.sensor_mut().centi = Err(());
    cool.run(10_000);
    assert!(!cool.seat.flags().contains(Flags::LOCAL_TRIP));
    assert!(cool.seat.flags().contains(Flags::SENSOR_FAULT));
}

#[test]
fn the_sensor_thermostat_gets_the_trip_at_boot_and_on_every_change() {
    let mut r = Rig::with(Counting::at(2_500), boot(ResetCause::PowerOn, true), 0);
    let limits = |trip_centi, faults| crate::tmp105::AlertLimits {
        high_centi: trip_centi,
        low_centi: trip_centi - TRIP_HYSTERESIS_CENTI,
        faults,
    };
    assert_eq!(r.seat.sensor_mut().limits, [limits(8_500, 3)]);
    r.handshake();
    configure_period(&mut r, 200); // trip unchanged: nothing new
    r.command(Message::SetConfig(SetConfig {
        period_ms: 200,
        trip_centi: 7_000,
        trip_samples: 5,
    }));
    r.until_ack();
    assert_eq!(r.seat.sensor_mut().limits, [limits(8_500, 3), limits(7_000, 5)]);
}

#[test]
fn a_crash_reset_is_reported_as_panic_in_hello_and_is_not_a_watchdog_reset() {
    for reset in [ResetCause::Panic, ResetCause::BrownOut] {
        let mut r = Rig::with(Fake(Ok(3_000)), boot(reset, true), 0);
        let first = r.run(10);
        let Some(Message::Hello(h)) = first.first() else {
            panic!("{first:?}")
        };
        assert_eq!(h.reset, reset);
        r.handshake();
        assert!(telemetry(&r.run(2_000))
            .iter()
            .all(|t| !t.flags.contains(Flags::WATCHDOG_RESET)));
    }
}

/// The board's die temperature and supply travel as channel 1 and `supply_mv`, behind the console's
/// channel 0; when the console's sensor fails the frame carries no temperature at all, so the die
/// can never be read as the console. `Hello.sensors` says the die channel is fitted.
#[test]
fn the_die_is_channel_1_behind_the_console_and_never_in_its_place() {
    let mut r = Rig::new();
    r.seat.set_board_readings(BoardReadings {
        die_centi: Some(4_100),
        supply_mv: Some(3_290),
    });
    r.handshake();
    let hello = r.log.iter().find_map(|(_, m)| match m {
        Message::Hello(h) => Some(h.clone()),
        _ => None,
    });
    assert_eq!(hello.map(|h| h.sensors), Some(0b11));
    let msgs = r.run(2_000);
    let t = telemetry(&msgs);
    assert!(!t.is_empty());
    for x in &t {
        assert_eq!(x.temps.as_slice(), &[2_500, 4_100]);
        assert_eq!(x.supply_mv, 3_290);
    }
    r.seat.sensor_mut().0 = Err(());
    let msgs = r.run(2_000);
    let t = telemetry(&msgs);
    assert!(!t.is_empty());
    for x in &t {
        assert!(x.temps.is_empty(), "no console reading, no temperature: {x:?}");
        assert!(x.flags.contains(Flags::SENSOR_FAULT));
        assert_eq!(x.console(), None);
    }
}

/// A full ack queue makes room by dropping a ping's answer, never a failover's: the host's
/// failover is not done until it sees that `Ack`.
#[test]
fn a_flood_of_pings_never_pushes_a_failover_ack_out() {
    let mut r = Rig::new();
    r.handshake();
    // Commands arrive faster (several per round) than acks leave (one every other turn).
    for _ in 0..ACK_QUEUE {
        r.command(Message::Ping(Ping {}));
    }
    let (failover, _) = r.command(Message::Failover(Failover { active: true }));
    for _ in 0..4 * ACK_QUEUE {
        r.command(Message::Ping(Ping {}));
    }
    let msgs = r.run(40 * PERIOD_US / 1_000);
    assert!(
        acks(&msgs)
            .iter()
            .any(|a| a.counter == failover && a.of == MessageKind::Failover as u8),
        "the failover's Ack is sent: {msgs:?}"
    );
}
