//! Issue 12, item 14: a man-in-the-middle without a key between a QEMU seat and the real daemon
//! process ([`hemiwatch_tests::proxy::Mitm`]). Each attack must take the seat out of "ok" and
//! raise the alert that names it within 3 telemetry periods of the attack's start:
//!
//! - (a) telemetry dropped (acks forwarded) while the seat heats to 90 °C → `telemetry_missing`;
//! - (b) old `Hello`s replayed after the seat died, across a daemon restart → `seat_silent`,
//!   the replays counted and refused.
//!
//! "Raised" is the alert opening (it shows on the seat at once); it fires — and notifies — after
//! 4.5 periods like every silence, the bound that keeps 1 % line loss from paging anyone.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hemiwatch::testkit::{seat_key, wait_for};
use hemiwatch_protocol::SeatId;
use hemiwatch_tests::harness::{seat_toml, Daemon};
use hemiwatch_tests::proxy::{serve_mitm, Mitm};
use hemiwatch_tests::qemu::{QemuSeat, Uart};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

/// A daemon line `m{seat}` served through a fresh [`Mitm`] to the seat's QEMU UART socket.
struct Line {
    _rt: tokio::runtime::Runtime,
    shutdown: CancellationToken,
    mitm: Arc<Mitm>,
    uart: std::path::PathBuf,
    toml: String,
}

impl Line {
    fn new(dir: &std::path::Path, seat: SeatId) -> Self {
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let shutdown = CancellationToken::new();
        let mitm = Arc::new(Mitm::default());
        let listen = dir.join(format!("line-{seat}.sock"));
        let uart = dir.join(format!("uart-{seat}.sock"));
        let (m, l, u, sd) = (mitm.clone(), listen.clone(), uart.clone(), shutdown.clone());
        rt.spawn(async move {
            let r = serve_mitm(l, u, m.clone(), sd).await;
            if let Ok(mut ended) = m.ended.lock() {
                *ended = Some(format!("{r:?}"));
            }
        });
        let toml = format!(
            "[[line]]\nname = \"m{seat}\"\npath = \"unix:{}\"\n\n{}",
            listen.display(),
            seat_toml(seat, &format!("m{seat}"), None)
        );
        Self {
            _rt: rt,
            shutdown,
            mitm,
            uart,
            toml,
        }
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

fn boot(seat: SeatId, uart: &std::path::Path, milli_c: i32) -> QemuSeat {
    let mut q = QemuSeat::boot_with(Some((seat, &seat_key(seat))), Uart::Socket(uart))
        .unwrap_or_else(|e| panic!("QEMU seat {seat}: {e:#}"));
    q.set_temperature(milli_c).expect("QMP");
    q
}

fn seat(d: &Daemon, id: SeatId) -> Value {
    d.get(&format!("/api/seats/{id}")).unwrap_or_default()
}

fn open_alerts(d: &Daemon, kind: &str, id: SeatId) -> Vec<Value> {
    d.get(&format!("/api/alerts?state=open&kind={kind}&seat={id}"))
        .ok()
        .and_then(|v| v["alerts"].as_array().cloned())
        .unwrap_or_default()
}

fn wait_ok(d: &Daemon, id: SeatId) {
    wait_for(Duration::from_secs(30), "seat ok", || {
        Ok(seat(d, id)["status"] == "ok")
    })
    .unwrap_or_else(|e| panic!("seat {id} never ok: {e}\n{}", d.log_text()));
}

/// (a) The attacker drops the seat's telemetry and forwards its acks while QMP heats the seat's
/// sensor to 90 °C. The seat leaves "ok" and `telemetry_missing` opens within 3 periods; it
/// stays out of "ok" while the attack lasts; once the attack stops, the 90 °C shows.
#[test]
fn mitm_dropping_telemetry_while_the_seat_heats_cannot_keep_it_ok() {
    const ID: SeatId = 61;
    let dir = tempfile::tempdir().expect("tempdir");
    let line = Line::new(dir.path(), ID);
    let mut q = boot(ID, &line.uart, 45_000);
    let daemon = Daemon::start(dir.path(), &line.toml).expect("daemon");
    wait_ok(&daemon, ID);
    let period = Duration::from_millis(seat(&daemon, ID)["period_ms"].as_u64().unwrap_or(500));

    line.mitm.drop_telemetry.store(true, Relaxed);
    let attack = Instant::now();
    q.set_temperature(90_000).expect("QMP");
    wait_for(Duration::from_secs(10), "seat out of ok", || {
        Ok(seat(&daemon, ID)["status"] != "ok" && !open_alerts(&daemon, "telemetry_missing", ID).is_empty())
    })
    .unwrap_or_else(|e| panic!("{e}: {}\n{}", seat(&daemon, ID), daemon.log_text()));
    let took = attack.elapsed();
    // On the daemon's clock: from the last telemetry it verified (before the attack began) to the
    // alert, within 3 periods.
    let last = seat(&daemon, ID)["last_seen_ms"].as_u64().unwrap_or(0);
    let alert = &open_alerts(&daemon, "telemetry_missing", ID)[0];
    let raised = alert["started_at_ms"].as_u64().unwrap_or(u64::MAX);
    let after = Duration::from_millis(raised.saturating_sub(last));
    assert!(
        after <= period * 3,
        "telemetry_missing {after:?} after the last telemetry"
    );
    assert!(
        took <= period * 3 + Duration::from_secs(1),
        "out of ok {took:?} after the attack began"
    );
    // The attack goes on: the seat is never "ok" again, and the alert fires.
    let until = Instant::now() + Duration::from_secs(12);
    while Instant::now() < until {
        let s = seat(&daemon, ID);
        assert_ne!(s["status"], "ok", "back to ok during the attack: {s}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let alert = &open_alerts(&daemon, "telemetry_missing", ID)[0];
    assert_eq!(alert["state"], "firing", "{alert}");
    assert!(line.mitm.dropped.load(Relaxed) > 10);
    // The attack stops: the heat shows.
    line.mitm.drop_telemetry.store(false, Relaxed);
    wait_for(Duration::from_secs(20), "90 °C shown", || {
        Ok(seat(&daemon, ID)["hottest_c"].as_f64().is_some_and(|t| t >= 89.0))
    })
    .unwrap_or_else(|e| panic!("{e}: {}\n{}", seat(&daemon, ID), daemon.log_text()));
    eprintln!(
        "MITM drop: out of ok {took:?} after the attack, telemetry_missing {after:?} after the last telemetry (period {period:?}); {} frames dropped",
        line.mitm.dropped.load(Relaxed)
    );
}

/// (b) The attacker captured the seat's `Hello`s of two boots; after the seat died it replays
/// them in turn, one per period, also across a daemon restart. The seat goes silent within
/// 3 periods of its last telemetry, the replays are counted and refused, and it is never "ok".
#[test]
fn mitm_replaying_old_hellos_after_the_seat_died_cannot_keep_it_alive() {
    const ID: SeatId = 62;
    let dir = tempfile::tempdir().expect("tempdir");
    let line = Line::new(dir.path(), ID);
    let mut q = boot(ID, &line.uart, 41_000);
    let mut daemon = Daemon::start(dir.path(), &line.toml).expect("daemon");
    wait_ok(&daemon, ID);
    let period = Duration::from_millis(seat(&daemon, ID)["period_ms"].as_u64().unwrap_or(500));
    let first_boot = seat(&daemon, ID)["boot_id"].clone();
    q.kill();
    let mut q = boot(ID, &line.uart, 41_000);
    wait_for(Duration::from_secs(30), "second boot", || {
        let s = seat(&daemon, ID);
        Ok(s["status"] == "ok" && s["boot_id"] != first_boot)
    })
    .unwrap_or_else(|e| {
        panic!(
            "{e}: {}\n{}\nQEMU running {}, stderr: {}\n{}",
            seat(&daemon, ID),
            line.mitm.describe(),
            q.is_running(),
            q.stderr(),
            daemon.log_text()
        )
    });
    assert!(
        line.mitm.captured.load(Relaxed) >= 2,
        "Hellos of two boots captured"
    );

    // The seat dies; the replays begin.
    q.kill();
    line.mitm.replay_hellos.store(true, Relaxed);
    wait_for(Duration::from_secs(10), "seat silent", || {
        Ok(seat(&daemon, ID)["status"] == "silent" && !open_alerts(&daemon, "seat_silent", ID).is_empty())
    })
    .unwrap_or_else(|e| panic!("{e}: {}\n{}", seat(&daemon, ID), daemon.log_text()));
    let last = seat(&daemon, ID)["last_seen_ms"].as_u64().unwrap_or(0);
    let raised = open_alerts(&daemon, "seat_silent", ID)[0]["started_at_ms"]
        .as_u64()
        .unwrap_or(u64::MAX);
    let after = Duration::from_millis(raised.saturating_sub(last));
    assert!(
        after <= period * 3,
        "seat_silent {after:?} after the last telemetry"
    );
    let until = Instant::now() + Duration::from_secs(6);
    while Instant::now() < until {
        assert_eq!(seat(&daemon, ID)["status"], "silent", "{}", seat(&daemon, ID));
        std::thread::sleep(Duration::from_millis(100));
    }
    let replays = seat(&daemon, ID)["counters"]["replays"].as_u64().unwrap_or(0);
    assert!(
        replays >= 8,
        "replayed Hellos counted as replays: {}",
        seat(&daemon, ID)
    );

    // The daemon restarts (its link state is gone, SQLite is not): still refused, never "ok".
    daemon.restart().expect("restart");
    let until = Instant::now() + Duration::from_secs(15);
    while Instant::now() < until {
        assert_ne!(seat(&daemon, ID)["status"], "ok", "{}", seat(&daemon, ID));
        std::thread::sleep(Duration::from_millis(200));
    }
    let s = seat(&daemon, ID);
    assert!(
        s["counters"]["replays"].as_u64().unwrap_or(0) >= 8,
        "after the restart: {s}"
    );
    assert_eq!(s["status"], "silent", "{s}");
    eprintln!(
        "MITM replay: seat_silent {after:?} after the last telemetry (period {period:?}); {} Hellos replayed, {replays} refused before the restart",
        line.mitm.replayed.load(Relaxed)
    );
}
