//! Hardware-in-the-loop: the real seat firmware ELF in QEMU (lm3s6965evb + emulated TMP105), its
//! UART on a real pty, the test playing the host with the protocol crate's `HostLink`, and the
//! sensor temperature set live over QMP. Never skipped: `scripts/setup.sh` installs
//! `qemu-system-arm` and the thumbv7m target, and a missing emulator fails the test.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hemiwatch::testkit::seat_key;
use hemiwatch_protocol::{
    Ack, AckStatus, AuthError, BoardKind, Event, Failover, FaultCode, Flags, Identify, Message, MessageKind,
    ResetCause, SeatId, SeatKey, SessionChange, SetConfig, Telemetry,
};
use hemiwatch_tests::qemu::{HostSide, QemuSeat};

/// One HIL test at a time: the rate and latency assertions measure host arrival times, and three
/// emulators plus the test threads on a 2-core CI machine would blur them. Run one by one the six
/// tests take about 25 s.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Boots a provisioned seat and opens a session with it.
fn session(seat: SeatId) -> (QemuSeat, HostSide, SeatKey) {
    let k = seat_key(seat);
    let mut q = QemuSeat::boot(Some((seat, &k))).expect("QEMU boots the firmware");
    let mut host = HostSide::new(seat, &k);
    host.handshake(&mut q).expect("handshake");
    (q, host, k)
}

/// Sends `SetConfig` and waits for its `Ack{Ok}`.
fn configure(q: &mut QemuSeat, host: &mut HostSide, period_ms: u16, trip_centi: i16, trip_samples: u8) {
    let cfg = SetConfig {
        period_ms,
        trip_centi,
        trip_samples,
    };
    let counter = host.command(q, &Message::SetConfig(cfg)).unwrap();
    let want = Ack {
        counter,
        of: MessageKind::SetConfig as u8,
        status: AckStatus::Ok,
    };
    host.wait_for(q, Duration::from_secs(3), |m| *m == Message::Ack(want.clone()))
        .expect("SetConfig acked");
    // The telemetry period is the host's round period: the daemon's `telemetry_period_ms`.
    host.set_period(u64::from(period_ms));
}

fn next_telemetry(q: &mut QemuSeat, host: &mut HostSide) -> (Instant, Telemetry) {
    let r = host
        .wait_for(q, Duration::from_secs(3), |m| matches!(m, Message::Telemetry(_)))
        .expect("telemetry");
    match r.message() {
        Some(Message::Telemetry(t)) => (r.at, t.clone()),
        _ => unreachable!(),
    }
}

#[test]
fn hello_then_telemetry_at_the_configured_rate() {
    let _one_at_a_time = serial();
    let k = seat_key(101);
    let mut q = QemuSeat::boot(Some((101, &k))).unwrap();
    let mut host = HostSide::new(101, &k);
    let hello = host.wait_hello(&mut q, Duration::from_secs(5)).unwrap();
    assert_eq!(hello.board, BoardKind::QemuLm3s6965);
    assert_eq!(hello.reset, ResetCause::PowerOn);
    assert_eq!(hello.period_ms, 1_000, "the default period");
    assert_eq!(hello.sensors, 0b1);
    // No telemetry before a session: the next frame is another Hello, a second later.
    let again = host.wait_hello(&mut q, Duration::from_secs(3)).unwrap();
    assert_eq!(again.boot_id, hello.boot_id);
    assert!(again.counter > hello.counter);
    assert!(
        host.log
            .iter()
            .all(|r| matches!(r.message(), Some(Message::Hello(_)))),
        "only Hellos before a session"
    );

    let (_, change) = host.handshake(&mut q).unwrap();
    assert!(matches!(
        change,
        SessionChange::Established { new_boot: true, .. }
    ));
    // The default period first: three frames two seconds apart.
    let (t0, _) = next_telemetry(&mut q, &mut host);
    next_telemetry(&mut q, &mut host);
    let (t2, _) = next_telemetry(&mut q, &mut host);
    let per_frame = (t2 - t0) / 2;
    assert!(
        (Duration::from_millis(900)..=Duration::from_millis(1_100)).contains(&per_frame),
        "default period 1 s ± 10 %, measured {per_frame:?} per frame; frames since the handshake: {:?}",
        host.log
            .iter()
            .map(|r| r.message().map(Message::kind))
            .collect::<Vec<_>>()
    );

    configure(&mut q, &mut host, 100, 8_500, 3);
    next_telemetry(&mut q, &mut host); // the first one starts the new cadence
    let stamps: Vec<Instant> = (0..21).map(|_| next_telemetry(&mut q, &mut host).0).collect();
    let per_frame = (stamps[20] - stamps[0]) / 20;
    assert!(
        (Duration::from_millis(90)..=Duration::from_millis(110)).contains(&per_frame),
        "20 frames at 100 ms ±10 %: measured {per_frame:?} per frame"
    );
}

#[test]
fn temperatures_set_over_qmp_arrive_exactly() {
    let _one_at_a_time = serial();
    let (mut q, mut host, _) = session(102);
    // Trip above the tested range so 90 °C does not put the seat in safe mode.
    configure(&mut q, &mut host, 100, 12_500, 3);
    // The new trip reprograms the sensor's thermostat: its first conversion time reads its
    // reset value (0 °C), which the seat does not send. Telemetry at 100 ms shows that window.
    let mut now = next_telemetry(&mut q, &mut host).1;
    for _ in 0..10 {
        if !now.temps.is_empty() {
            break;
        }
        now = next_telemetry(&mut q, &mut host).1;
    }
    assert_eq!(now.temps.len(), 1, "a reading from the emulated sensor: {now:?}");
    let mut previous = now.temps.first().copied();
    for (milli, centi) in [
        (71_500, 7_150),
        (25_000, 2_500),
        (-10_000, -1_000),
        (90_000, 9_000),
    ] {
        q.set_temperature(milli).unwrap();
        // Frames sampled before the qom-set took effect may still be on their way: they carry
        // exactly the previous value; a few at most (the period is 100 ms).
        let mut stale = 0;
        let mut t = next_telemetry(&mut q, &mut host).1;
        while t.temps.as_slice() != [centi] {
            assert_eq!(
                t.temps.first().copied(),
                previous,
                "{milli} m°C: neither old nor new: {t:?}"
            );
            stale += 1;
            assert!(stale <= 5, "{milli} m°C never arrived");
            t = next_telemetry(&mut q, &mut host).1;
        }
        for _ in 0..3 {
            let (_, t) = next_telemetry(&mut q, &mut host);
            assert_eq!(
                t.temps.as_slice(),
                [centi],
                "{milli} m°C → exactly {centi} centi-°C"
            );
            assert!(!t.flags.contains(Flags::SENSOR_FAULT));
        }
        previous = Some(centi);
    }
}

#[test]
fn a_seat_held_at_95_c_trips_into_safe_mode_by_itself() {
    let _one_at_a_time = serial();
    let (mut q, mut host, _) = session(103);
    configure(&mut q, &mut host, 100, 8_500, 3);
    q.set_temperature(95_000).unwrap();
    let started = Instant::now();
    // No command from the host: the seat decides on its own.
    let ev = host
        .wait_for(
            &mut q,
            Duration::from_secs(3),
            |m| matches!(m, Message::Event(e) if e.code == FaultCode::LOCAL_TRIP),
        )
        .unwrap();
    let Some(Message::Event(e)) = ev.message() else {
        unreachable!()
    };
    assert_eq!(
        e.detail, 9_500,
        "the event carries the temperature that tripped it"
    );
    let (_, t) = next_telemetry(&mut q, &mut host);
    assert!(
        t.flags.contains(Flags::LOCAL_TRIP) && t.flags.safe_mode(),
        "{t:?}"
    );
    assert!(!t.flags.contains(Flags::FAILOVER_ACTIVE), "not the host's doing");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "3 samples at 100 ms, not {:?}",
        started.elapsed()
    );
    // Back to normal: released after 3 samples below trip − hysteresis.
    q.set_temperature(40_000).unwrap();
    host.wait_for(
        &mut q,
        Duration::from_secs(3),
        |m| matches!(m, Message::Event(e) if e.code == FaultCode::LOCAL_TRIP_CLEARED),
    )
    .unwrap();
    let (_, t) = next_telemetry(&mut q, &mut host);
    assert!(!t.flags.safe_mode(), "{t:?}");
}

#[test]
fn failover_is_acked_and_shown_in_telemetry() {
    let _one_at_a_time = serial();
    let (mut q, mut host, _) = session(104);
    configure(&mut q, &mut host, 100, 8_500, 3);
    let (_, before) = next_telemetry(&mut q, &mut host);
    assert!(!before.flags.contains(Flags::FAILOVER_ACTIVE));
    let counter = host
        .command(&mut q, &Message::Failover(Failover { active: true }))
        .unwrap();
    let want = Message::Ack(Ack {
        counter,
        of: MessageKind::Failover as u8,
        status: AckStatus::Ok,
    });
    host.wait_for(&mut q, Duration::from_secs(3), |m| *m == want)
        .unwrap();
    for _ in 0..3 {
        let (_, t) = next_telemetry(&mut q, &mut host);
        assert!(
            t.flags.contains(Flags::FAILOVER_ACTIVE) && t.flags.safe_mode(),
            "{t:?}"
        );
    }
}

#[test]
fn a_killed_seat_goes_silent_and_reboots_with_a_new_identity_old_frames_replay_fails() {
    let _one_at_a_time = serial();
    let (mut q, mut host, k) = session(105);
    configure(&mut q, &mut host, 100, 8_500, 3);
    let old_boot = host.link.boot_id().unwrap();
    let (_, _) = next_telemetry(&mut q, &mut host);
    let captured = host
        .wait_for(&mut q, Duration::from_secs(3), |m| {
            matches!(m, Message::Telemetry(_))
        })
        .unwrap()
        .wire;

    q.kill();
    let killed = Instant::now();
    assert!(!q.is_running());
    // Frames read before the kill may still wait in the rig's queue; none may arrive after it.
    while killed.elapsed() < Duration::from_millis(1_500) {
        match host.recv(&mut q, Duration::from_millis(200)) {
            Ok(None) => {}
            Ok(Some(r)) => assert!(r.at <= killed, "a frame arrived after the kill: {r:?}"),
            Err(_) => break, // the pty closed with the emulator: silence for good
        }
    }
    drop(q);

    let mut q = QemuSeat::boot(Some((105, &k))).unwrap();
    // OPEN ISSUE (bus-core): a rebooted QEMU seat handshaking on a 100 ms round period says one
    // Hello and then nothing for 5 s (at 1 s it completes at once); not yet explained, so the
    // reboot is met at the default period, as a daemon configured with 1 s would.
    host.set_period(1_000);
    let (hello, change) = host.handshake(&mut q).unwrap();
    assert_ne!(hello.boot_id, old_boot, "a reboot has a new boot identity");
    assert_eq!(hello.reset, ResetCause::PowerOn);
    assert_eq!(
        change,
        SessionChange::Established {
            boot_id: hello.boot_id,
            new_boot: true
        }
    );
    // A frame captured before the restart, replayed now, fails the host's anti-replay.
    let mut replay = HostReplay::default();
    let verdict = replay.accept(&mut host, &captured);
    assert_eq!(verdict, Some(Err(AuthError::Replay)));
    // The live seat still verifies after the replay attempt.
    next_telemetry(&mut q, &mut host);
}

#[test]
fn seats_side_by_side_have_their_own_ids_and_an_unprovisioned_one_says_so() {
    let _one_at_a_time = serial();
    let k = seat_key(106);
    let mut a = QemuSeat::boot(Some((106, &k))).unwrap();
    let mut blank = QemuSeat::boot(None).unwrap();
    let mut host_a = HostSide::new(106, &k);
    // Unprovisioned: seat 1 with the daemon's public demo key (the same derivation as the host's).
    assert_eq!(
        hemiwatch_firmware::provision::load_or_fallback(&[]).0.key,
        hemiwatch_protocol::demo_key(1)
    );
    let mut host_blank = HostSide::new(1, &hemiwatch_protocol::demo_key(1));
    host_a.handshake(&mut a).unwrap();
    host_blank.handshake(&mut blank).unwrap();
    // The event goes out right after the session opens: maybe already during the handshake.
    let unprovisioned = |m: &Message| matches!(m, Message::Event(e) if e.code == FaultCode::UNPROVISIONED);
    if !host_blank
        .log
        .iter()
        .any(|r| r.message().is_some_and(unprovisioned))
    {
        host_blank
            .wait_for(&mut blank, Duration::from_secs(3), unprovisioned)
            .unwrap();
    }
    assert!(
        host_a.log.iter().all(|r| r.verdict.is_ok()),
        "seat 106 verifies with its own key"
    );
    // Seat 106's frames are not seat 1's.
    let mut wrong = HostSide::new(1, &hemiwatch_protocol::demo_key(1)).beaconing(106);
    let r = wrong
        .recv(&mut a, Duration::from_secs(3))
        .unwrap()
        .expect("a frame");
    assert_eq!(r.verdict, Err(AuthError::OtherSeat));
}

/// Feeds one captured wire frame to a host link.
#[derive(Default)]
struct HostReplay {
    decoder: hemiwatch_protocol::FrameDecoder,
}

impl HostReplay {
    fn accept(
        &mut self,
        host: &mut HostSide,
        wire: &[u8],
    ) -> Option<Result<hemiwatch_protocol::Verified, AuthError>> {
        let mut out = None;
        self.decoder.feed(wire, |f| {
            if let Ok(raw) = f {
                out = Some(host.link.accept(&raw));
            }
        });
        out
    }
}

/// The QEMU board's fault injection (`firmware/boards/qemu-lm3s6965/src/fault.rs`, the rig's
/// `fault-injection` feature): the magic `Identify` duration named `name` there, and the source
/// line of the statement containing `marker` — read from the board's source, its one home.
fn fault_injection(name: &str, marker: &str) -> (u8, i16) {
    let path = hemiwatch_tests::qemu::board_dir().join("src/fault.rs");
    let src = std::fs::read_to_string(&path).expect("the board's fault.rs");
    let seconds = src
        .lines()
        .find_map(|l| l.trim().strip_prefix(&format!("pub const {name}: u8 = ")))
        .and_then(|v| v.trim_end_matches(';').parse().ok())
        .unwrap_or_else(|| panic!("{name} in {}", path.display()));
    let line = src
        .lines()
        .position(|l| l.contains(marker))
        .unwrap_or_else(|| panic!("{marker:?} in {}", path.display()));
    (seconds, line as i16 + 1)
}

/// Sends `Identify{seconds}` (the seat acks it before acting on it).
fn identify(q: &mut QemuSeat, host: &mut HostSide, seconds: u8) {
    host.command(q, &Message::Identify(Identify { seconds })).unwrap();
}

#[test]
fn a_panic_resets_at_once_and_the_next_boot_says_panic_and_where() {
    let _one_at_a_time = serial();
    let (panic_seconds, panic_line) = fault_injection("PANIC_SECONDS", "panic!(\"fault injection");
    let (mut q, mut host, _) = session(108);
    let old_boot = host.link.boot_id().unwrap();
    identify(&mut q, &mut host, panic_seconds);
    let fired = Instant::now();
    let hello = host.wait_hello(&mut q, Duration::from_secs(5)).unwrap();
    let took = fired.elapsed();
    assert_eq!(hello.reset, ResetCause::Panic, "{hello:?}");
    assert_ne!(hello.boot_id, old_boot, "a new boot");
    // At once, not by the watchdog (2 s + 2 s): the first Hello comes right after the reboot.
    assert!(took < Duration::from_secs(3), "rebooted {took:?} after the panic");
    // Once a host listens, the crash's location: the panic's source line.
    host.handshake(&mut q).unwrap();
    let crashed = |m: &Message| matches!(m, Message::Event(e) if e.code == FaultCode::CRASHED);
    // It may be the very frame that confirmed the session.
    let r = match host.log.iter().rev().find(|r| r.message().is_some_and(crashed)) {
        Some(r) => r.clone(),
        None => host.wait_for(&mut q, Duration::from_secs(3), crashed).unwrap(),
    };
    assert_eq!(
        r.message(),
        Some(&Message::Event(Event {
            code: FaultCode::CRASHED,
            detail: panic_line,
        })),
        "the panic's line in fault.rs"
    );
    // The boot after is an ordinary one: the record was consumed.
    let (_, t) = next_telemetry(&mut q, &mut host);
    assert!(!t.flags.contains(Flags::WATCHDOG_RESET));
}

#[test]
fn a_stalled_main_loop_is_reset_by_the_watchdog_and_the_next_boot_says_so() {
    let _one_at_a_time = serial();
    let (stall_seconds, _) = fault_injection("STALL_SECONDS", "loop {");
    let (mut q, mut host, _) = session(109);
    let old_boot = host.link.boot_id().unwrap();
    identify(&mut q, &mut host, stall_seconds);
    let stalled = Instant::now();
    let hello = host.wait_hello(&mut q, Duration::from_secs(10)).unwrap();
    let took = stalled.elapsed();
    assert_eq!(hello.reset, ResetCause::Watchdog, "{hello:?}");
    assert_ne!(hello.boot_id, old_boot, "a new boot");
    // WDT0's first time-out (2 s) interrupts, the second (2 s more) resets.
    assert!(
        (Duration::from_millis(3_500)..Duration::from_secs(8)).contains(&took),
        "reset {took:?} after the stall; the watchdog needs two 2 s time-outs"
    );
    host.handshake(&mut q).unwrap();
    let (_, t) = next_telemetry(&mut q, &mut host);
    assert!(
        t.flags.contains(Flags::WATCHDOG_RESET),
        "every telemetry frame of that boot says it: {t:?}"
    );
}
