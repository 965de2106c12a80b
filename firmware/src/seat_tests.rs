//! Host-side tests of the seat state machine: the test plays the host with the protocol crate's
//! `HostLink`, so every frame the seat sends is verified exactly as the daemon would.

use std::collections::VecDeque;
use std::vec::Vec;

use embedded_hal_mock::eh1::i2c::{Mock, Transaction};
use hemiwatch_protocol::{
    Ack, AckStatus, BoardKind, Failover, FaultCode, Flags, FrameDecoder, HostLink, Identify, Message,
    MessageKind, Ping, ResetCause, SeatKey, SetConfig, MAX_WIRE,
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

struct Rig<S> {
    seat: Seat<S>,
    port: Port,
    host: HostLink,
    dec: FrameDecoder<MAX_WIRE>,
    now: u32,
    /// Every verified uplink message, with the test time it was read at.
    log: Vec<(u32, Message)>,
}

fn boot(reset: ResetCause, provisioned: bool) -> BootInfo {
    BootInfo {
        board: BoardKind::QemuLm3s6965,
        reset,
        boot_id: 0xB007_1D00,
        provisioned,
    }
}

impl Rig<Fake> {
    fn new() -> Self {
        Self::with(Fake(Ok(2_500)), boot(ResetCause::PowerOn, true), 0)
    }
}

impl<S: Thermometer> Rig<S> {
    fn with(sensor: S, boot: BootInfo, start: u32) -> Self {
        Self {
            seat: Seat::new(SEAT, &KEY, boot, sensor),
            port: Port::default(),
            host: HostLink::new(SEAT, Some(&KEY)),
            dec: FrameDecoder::new(),
            now: start,
            log: Vec::new(),
        }
    }

    /// Runs the seat for `ms` in 10 ms steps; returns the messages it sent meanwhile.
    fn run(&mut self, ms: u32) -> Vec<Message> {
        let mut out = Vec::new();
        for _ in 0..ms / 10 {
            self.seat.poll(self.now, &mut self.port);
            self.now = self.now.wrapping_add(10);
            let tx = core::mem::take(&mut self.port.tx);
            let (host, now) = (&mut self.host, self.now);
            self.dec.feed(&tx, |f| {
                let f = f.expect("the seat sends well-formed frames");
                let v = host.accept(&f).expect("every seat frame verifies at the host");
                out.push((now, v.message));
            });
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
            assert!(self.now < 10_000, "no hello");
        };
        let mut buf = [0u8; MAX_WIRE];
        let wire = self
            .host
            .respond_to_hello(&hello, 0x1234_5678_9ABC_DEF0, &mut buf)
            .unwrap();
        self.port.rx.extend(wire.iter().copied());
        self.run(10);
        assert!(self.seat.has_session());
        let t = self.run(u32::from(self.seat.config().period_ms) + 20);
        assert!(t.iter().any(|m| matches!(m, Message::Telemetry(_))), "{t:?}");
        assert!(self.host.has_session());
    }

    /// Sends a command; returns the host counter it carries (what the Ack must echo) and the wire.
    fn command(&mut self, msg: Message) -> (u32, Vec<u8>) {
        let mut buf = [0u8; MAX_WIRE];
        let (counter, wire) = self.host.encode(&msg, &mut buf).unwrap();
        self.port.rx.extend(wire.iter().copied());
        (counter, wire.to_vec())
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
        "hello at 0, 1 and 2 s, no telemetry without a session: {before:?}"
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
    assert_eq!(t.len(), 3, "{after:?}");
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
fn says_hello_again_when_the_host_is_lost_and_keeps_measuring() {
    let mut r = Rig::new();
    r.handshake();
    // The host goes quiet (no ping): after HOST_TIMEOUT_MS the seat re-hellos, telemetry goes on.
    let quiet = r.run(3_500);
    assert!(!quiet.iter().any(|m| matches!(m, Message::Hello(_))), "{quiet:?}");
    let msgs = r.run(3_500);
    let hellos = msgs.iter().filter(|m| matches!(m, Message::Hello(_))).count();
    assert!((2..=4).contains(&hellos), "one per second once lost: {msgs:?}");
    assert!(telemetry(&msgs).len() >= 3, "still measuring: {msgs:?}");
    // A ping every 2 s keeps it from re-helloing.
    let mut r = Rig::new();
    r.handshake();
    let mut msgs = Vec::new();
    for _ in 0..5 {
        r.command(Message::Ping(Ping {}));
        msgs.extend(r.run(2_000));
    }
    assert!(!msgs.iter().any(|m| matches!(m, Message::Hello(_))), "{msgs:?}");
    assert_eq!(acks(&msgs).len(), 5);
}

#[test]
fn ping_is_acked_with_its_counter() {
    let mut r = Rig::new();
    r.handshake();
    let (c1, _) = r.command(Message::Ping(Ping {}));
    let (c2, _) = r.command(Message::Ping(Ping {}));
    let msgs = r.run(20);
    let a = acks(&msgs);
    assert_eq!(a.len(), 2, "{msgs:?}");
    assert_eq!(
        *a[0],
        Ack {
            counter: c1,
            of: MessageKind::Ping as u8,
            status: AckStatus::Ok
        }
    );
    assert_eq!(a[1].counter, c2);
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
    let n = telemetry(&msgs).len();
    assert!((10..=11).contains(&n), "2 s at 200 ms: {n}");
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
        let msgs = r.run(100);
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
fn failover_enters_safe_mode_acks_and_flags_it_until_released() {
    let mut r = Rig::new();
    r.handshake();
    assert!(!r.seat.safe_mode());
    let (c, _) = r.command(Message::Failover(Failover { active: true }));
    let msgs = r.run(1_100);
    assert_eq!(
        acks(&msgs),
        [&Ack {
            counter: c,
            of: MessageKind::Failover as u8,
            status: AckStatus::Ok
        }]
    );
    assert!(r.seat.safe_mode());
    let t = telemetry(&msgs);
    assert!(!t.is_empty() && t.iter().all(|t| t.flags.contains(Flags::FAILOVER_ACTIVE)));
    r.command(Message::Failover(Failover { active: false }));
    let msgs = r.run(1_100);
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
    assert_eq!(acks(&r.run(50)).len(), 1);
    r.command(Message::Failover(Failover { active: false }));
    assert_eq!(acks(&r.run(50)).len(), 1);
    // An attacker replays the captured "failover on": refused, no ack, seat stays out of safe mode.
    r.port.rx.extend(wire);
    assert!(acks(&r.run(50)).is_empty());
    assert!(!r.seat.safe_mode());
}

#[test]
fn identify_sets_the_flag_for_the_requested_seconds() {
    let mut r = Rig::new();
    r.handshake();
    r.command(Message::Identify(Identify { seconds: 2 }));
    let msgs = r.run(1_000);
    assert_eq!(acks(&msgs).len(), 1);
    assert!(r.seat.identify());
    assert!(telemetry(&msgs).iter().all(|t| t.flags.contains(Flags::IDENTIFY)));
    r.run(1_100);
    assert!(!r.seat.identify());
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
    let msgs = r.run(3_100);
    assert_eq!(events(&msgs), [(FaultCode::LOCAL_TRIP, 9_500)]);
    let t = telemetry(&msgs);
    assert!(t.last().unwrap().flags.contains(Flags::LOCAL_TRIP));
    assert!(t.last().unwrap().flags.safe_mode());
    r.seat.sensor_mut().0 = Ok(2_500);
    let msgs = r.run(3_100);
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
    let msgs = r.run(2_000);
    let t = telemetry(&msgs);
    assert_eq!(t.len(), 2, "{msgs:?}");
    assert!(t
        .iter()
        .all(|t| t.flags.contains(Flags::SENSOR_FAULT) && t.temps.is_empty()));
    assert_eq!(events(&msgs), [(FaultCode::SENSOR_LOST, 0)]);
    let msgs = r.run(1_000);
    let t = telemetry(&msgs);
    assert_eq!(t.len(), 1);
    assert!(t[0].temps.is_empty(), "the restarted part's 0 °C is not sent");
    assert!(!t[0].flags.contains(Flags::SENSOR_FAULT));
    assert_eq!(events(&msgs), [(FaultCode::SENSOR_RECOVERED, 0)]);
    let t = r.run(1_000);
    assert_eq!(telemetry(&t)[0].temps.as_slice(), [7_150]);
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
fn the_32_bit_board_clock_may_wrap() {
    let mut r = Rig::with(Fake(Ok(2_000)), boot(ResetCause::PowerOn, true), u32::MAX - 2_000);
    r.handshake();
    let msgs = r.run(5_000);
    assert!(r.now < 10_000, "the clock wrapped during the run");
    assert_eq!(telemetry(&msgs).len(), 5, "{msgs:?}");
    assert!(r.seat.healthy());
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
    r.run(2 * crate::tmp105::CONVERSION_MAX_MS - 200);
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
    let msgs = r.run(10);
    assert_eq!(acks(&msgs)[0].status, AckStatus::Ok, "{msgs:?}");
}

#[test]
fn the_first_conversion_after_a_sensor_restart_is_discarded() {
    let mut r = Rig::with(Counting::at(0), boot(ResetCause::PowerOn, true), 0);
    r.handshake();
    configure_period(&mut r, 100);
    assert_eq!(telemetry(&r.run(200)).last().unwrap().temps.as_slice(), [0]);
    r.seat.sensor_mut().restart = true; // as the TMP105 driver after (re)configuring the part
    let early = r.run(crate::tmp105::CONVERSION_MAX_MS - 200);
    assert!(
        telemetry(&early).iter().all(|t| t.temps.is_empty()),
        "the register's 0 °C before the first conversion is no reading: {early:?}"
    );
    let later = r.run(300);
    assert_eq!(telemetry(&later).last().unwrap().temps.as_slice(), [0]);
    // A value other than the reset value is a completed conversion, kept at once.
    r.seat.sensor_mut().restart = true;
    r.seat.sensor_mut().centi = Ok(2_100);
    let t = r.run(110);
    assert_eq!(telemetry(&t)[0].temps.as_slice(), [2_100]);
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
    r.run(10);
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
