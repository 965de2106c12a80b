//! The `hemiwatch` daemon as a real process, reading simulated seats (`hemiwatch sim`, also real
//! processes) over real ptys, observed through its HTTP API and its SQLite file.

use std::time::{Duration, Instant};

use hemiwatch::testkit::{wait_for, WebhookReceiver};
use hemiwatch_tests::harness::{line_toml, seat_toml, sim_line, Daemon};
use hemiwatch_tests::wire::Wire;
use nix::sys::signal::Signal;
use serde_json::Value;

/// Verified telemetry frames per seat, from the API.
fn frames(daemon: &Daemon) -> anyhow::Result<std::collections::BTreeMap<u64, u64>> {
    Ok(daemon
        .seats()?
        .into_iter()
        .map(|(id, s)| (id, s["counters"]["frames"].as_u64().unwrap_or(0)))
        .collect())
}

/// Every seat of `ids` has sent verified telemetry since `before` was taken.
fn all_reported_since(
    daemon: &Daemon,
    ids: impl IntoIterator<Item = u16>,
    before: &std::collections::BTreeMap<u64, u64>,
) -> anyhow::Result<bool> {
    let now = frames(daemon)?;
    Ok(ids.into_iter().all(|id| {
        let id = u64::from(id);
        now.get(&id).copied().unwrap_or(0) > before.get(&id).copied().unwrap_or(0)
    }))
}

#[test]
fn every_seat_registers_and_an_unplugged_line_is_read_again_within_2_s_twenty_times() {
    let dir = tempfile::tempdir().unwrap();
    let mut body = line_toml("a", dir.path()) + &line_toml("b", dir.path());
    for id in 1..=20 {
        body += &seat_toml(id, "a", None);
    }
    for id in 21..=40 {
        body += &seat_toml(id, "b", None);
    }
    let mut sim_a = sim_line(&dir.path().join("a"), 1, 20, &[]).unwrap();
    let _sim_b = sim_line(&dir.path().join("b"), 21, 20, &[]).unwrap();
    let daemon = Daemon::start(dir.path(), &body).unwrap();
    let none = Default::default();
    wait_for(Duration::from_secs(10), "every seat registered", || {
        all_reported_since(&daemon, 1..=40, &none)
    })
    .unwrap_or_else(|e| panic!("not every seat registered: {e}\n{}", daemon.log_text()));
    let seats = daemon.seats().unwrap();
    assert_eq!(seats.len(), 40);
    for (id, s) in &seats {
        assert_eq!(s["status"], "ok", "seat {id}: {s}");
    }

    let mut worst = Duration::ZERO;
    for round in 0..20 {
        // Unplug: the simulator's pty master closes, as when a USB adapter is pulled.
        sim_a.kill();
        wait_for(Duration::from_secs(5), "line a seen down", || {
            let status = daemon.get("/api/status")?;
            Ok(status["lines"][0]["up"] == false)
        })
        .unwrap_or_else(|e| panic!("round {round}: the daemon never saw line a go down: {e}"));
        // The other line keeps flowing meanwhile.
        let b_before = daemon.seats().unwrap()[&21]["counters"]["frames"]
            .as_u64()
            .unwrap();
        // Replug.
        let replugged = Instant::now();
        let before = frames(&daemon).unwrap();
        sim_a = sim_line(&dir.path().join("a"), 1, 20, &["--seed", &round.to_string()]).unwrap();
        wait_for(
            Duration::from_secs(2),
            "every seat of line a reporting again",
            || all_reported_since(&daemon, 1..=20, &before),
        )
        .unwrap_or_else(|e| {
            panic!(
                "round {round}: line a's seats not all back within 2 s: {e}\n{}",
                daemon.log_text()
            )
        });
        worst = worst.max(replugged.elapsed());
        let b_after = daemon.seats().unwrap()[&21]["counters"]["frames"]
            .as_u64()
            .unwrap();
        assert!(
            b_after > b_before,
            "round {round}: line b stalled while line a was unplugged"
        );
    }
    eprintln!("worst replug-to-every-seat-heard time over 20 rounds: {worst:?}");
    let status = daemon.get("/api/status").unwrap();
    assert!(status["lines"][0]["opens"].as_u64().unwrap() >= 21, "{status}");
    // 20 reboots of line a's seats were seen (new boot identities), none of line b's.
    let seats = daemon.seats().unwrap();
    assert!(
        seats[&1]["counters"]["reboots"].as_u64().unwrap() >= 19,
        "{:?}",
        seats[&1]
    );
    assert_eq!(seats[&21]["counters"]["reboots"], 0);
}

#[test]
fn garbage_and_a_wrong_key_seat_do_not_disturb_the_other_seats_of_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut body = line_toml("a", dir.path());
    for id in 1..=10 {
        // Seat 5's configured key is not the one it signs with: a masquerading or
        // mis-provisioned console.
        let wrong = (id == 5).then_some("00000000000000000000000000000005");
        body += &seat_toml(id, "a", wrong);
    }
    let _sim = sim_line(&dir.path().join("a"), 1, 10, &["--garbage-per-s", "50"]).unwrap();
    let daemon = Daemon::start(dir.path(), &body).unwrap();
    let others = || (1..=10u16).filter(|&id| id != 5);
    // At 50 bursts a second most rounds carry garbage, and a seat that hears it before its turn
    // sits the round out (it cannot know the chain's order: `protocol/src/bus.rs`), so about
    // half the turns are lost: the good seats report at about half their rate, never stop.
    wait_for(Duration::from_secs(30), "ten frames from each other seat", || {
        let seats = daemon.seats()?;
        Ok(others().all(|id| seats[&u64::from(id)]["counters"]["frames"].as_u64() >= Some(10)))
    })
    .unwrap_or_else(|e| {
        let frames: Vec<_> = daemon
            .seats()
            .map(|s| s.values().map(|v| v["counters"]["frames"].clone()).collect())
            .unwrap_or_default();
        panic!(
            "the good seats did not keep reporting: {e}; frames per seat {frames:?}\n{}",
            daemon.log_text()
        )
    });
    let seats = daemon.seats().unwrap();
    let alerts = daemon.get("/api/alerts").unwrap();
    let silenced: Vec<&Value> = alerts["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["kind"] == "seat_silent" && a["state"] == "firing" && a["seat"] != 5)
        .collect();
    assert!(silenced.is_empty(), "a good seat went silent: {silenced:?}");
    for id in others() {
        let s = &seats[&u64::from(id)];
        assert_ne!(s["status"], "unknown", "seat {id}: {s}");
        assert_eq!(s["counters"]["bad_mac"], 0, "seat {id}: {s}");
        let t = s["temps_c"][0].as_f64().unwrap();
        assert!((25.0..50.0).contains(&t), "seat {id} reads {t}");
    }
    let five = &seats[&5];
    // Never trusted: never `ok`, and once its silence deadline passes, `silent`.
    assert!(
        five["status"] == "unknown" || five["status"] == "silent",
        "the wrong-key seat is never trusted: {five}"
    );
    assert_eq!(five["counters"]["frames"], 0, "{five}");
    assert!(
        five["counters"]["bad_mac"].as_u64().unwrap() + five["counters"]["rejected"].as_u64().unwrap() > 0,
        "its frames are counted as refused: {five}"
    );
    let status = daemon.get("/api/status").unwrap();
    assert!(
        status["lines"][0]["framing_errors"].as_u64().unwrap() > 0,
        "the garbage is counted: {status}"
    );
}

/// The notifications the webhook received in state `state` ("firing", "resolved").
fn notified(hook: &WebhookReceiver, state: &str) -> Vec<Value> {
    hook.bodies()
        .into_iter()
        .filter(|n| n["state"] == state)
        .collect()
}

#[test]
fn a_quiet_line_is_one_line_down_alert_not_one_per_seat_and_resolves_when_it_speaks_again() {
    let hook = WebhookReceiver::start(0).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut body = line_toml("a", dir.path()) + &line_toml("b", dir.path());
    for id in 1..=4 {
        body += &seat_toml(id, "a", None);
    }
    for id in 5..=6 {
        body += &seat_toml(id, "b", None);
    }
    body += &format!(
        "[[sink]]\nkind = \"webhook\"\nurl = \"{}\"\ntimeout = \"2s\"\n\n",
        hook.url
    );
    let sim_a = sim_line(&dir.path().join("a"), 1, 4, &[]).unwrap();
    let _sim_b = sim_line(&dir.path().join("b"), 5, 2, &[]).unwrap();
    let daemon = Daemon::start(dir.path(), &body).unwrap();
    daemon.wait_frames(2, Duration::from_secs(10)).unwrap();

    // Every seat of line a stops talking at once; its port stays open (a cut bus, a dead
    // repeater), so only the seats' silence tells.
    sim_a.signal(Signal::SIGSTOP);
    wait_for(Duration::from_secs(10), "line a's line_down notified", || {
        Ok(notified(&hook, "firing")
            .iter()
            .any(|n| n["kind"] == "line_down" && n["line"] == "a"))
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", daemon.log_text()));
    // Each seat's own seat_silent would fire 4.5 periods (2.25 s) after its last frame: wait
    // past that, then look.
    std::thread::sleep(Duration::from_secs(3));
    let firing = notified(&hook, "firing");
    assert_eq!(
        firing.len(),
        1,
        "one notification for the whole line, none per seat: {firing:?}"
    );
    let alerts = daemon.get("/api/alerts").unwrap();
    let open: Vec<&str> = alerts["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["state"] != "resolved")
        .filter_map(|a| a["kind"].as_str())
        .collect();
    assert_eq!(
        open,
        ["line_down"],
        "the line's alert stands for its seats: {alerts}"
    );
    // A seat heard last may be pending silent for a moment before the line is known quiet;
    // none ever fires.
    for a in alerts["alerts"].as_array().into_iter().flatten() {
        assert!(
            a["kind"] != "seat_silent" || a["state"] == "resolved",
            "a seat_silent alert outlived the line_down: {a}"
        );
    }
    let seats = daemon.seats().unwrap();
    for id in 5..=6 {
        assert_eq!(seats[&id]["status"], "ok", "line b is untouched: {}", seats[&id]);
    }

    sim_a.signal(Signal::SIGCONT);
    wait_for(
        Duration::from_secs(10),
        "line a's line_down resolved and notified",
        || {
            Ok(notified(&hook, "resolved")
                .iter()
                .any(|n| n["kind"] == "line_down" && n["line"] == "a"))
        },
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", daemon.log_text()));
    assert_eq!(
        notified(&hook, "firing").len(),
        1,
        "no seat of the line notified on the way back: {:?}",
        hook.bodies()
    );
}

#[test]
fn sigterm_flushes_storage_and_a_restart_keeps_history_and_seat_facts() {
    let dir = tempfile::tempdir().unwrap();
    let mut body = line_toml("a", dir.path());
    for id in 1..=5 {
        body += &seat_toml(id, "a", None);
    }
    // Five seats and the daemon on one RS-485 wire: the bus scheme keeps them apart.
    let mut wire = Wire::new(115_200).unwrap();
    let (_, _, mut sim) = wire.simulated_line(dir.path(), "a", 1, 5, &[]).unwrap();
    let mut daemon = Daemon::start(dir.path(), &body).unwrap();
    daemon.wait_frames(6, Duration::from_secs(10)).unwrap();
    let bus = wire.stats();
    assert_eq!((bus.collisions, bus.garbled()), (0, 0), "{bus:?}");
    let boot_id = daemon.seats().unwrap()[&3]["boot_id"].as_u64().unwrap();
    daemon.proc.signal(nix::sys::signal::Signal::SIGTERM);
    let stopped_at = hemiwatch::unix_ms();
    let status = daemon.proc.wait_exit(Duration::from_secs(10)).unwrap();
    assert!(
        status.success(),
        "SIGTERM is a clean stop: {status}\n{}",
        daemon.log_text()
    );
    assert!(daemon.log_text().contains("storage flushed and closed"));

    let conn = rusqlite_open(&daemon.database);
    let (count, last): (i64, i64) = conn
        .query_row(
            "SELECT COUNT(*), MAX(t_ms) FROM samples WHERE seat = 3",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(count >= 6, "{count} samples of seat 3 stored");
    // Flushed at shutdown: the last stored sample is from the last half-second, not the last
    // periodic commit up to 1 s earlier.
    assert!(
        stopped_at as i64 - last < 900,
        "last sample {} ms before SIGTERM",
        stopped_at as i64 - last
    );
    drop(conn);

    // The seats stay quiet from here on: whatever the restarted daemon shows of them, it read
    // from its database.
    sim.kill();
    daemon.restart().unwrap();
    let seat = &daemon.seats().unwrap()[&3];
    assert_eq!(
        seat["boot_id"].as_u64(),
        Some(boot_id),
        "the restarted daemon shows the boot id it stored before any seat speaks again: {seat}"
    );
    let now = hemiwatch::unix_ms();
    let history = daemon
        .get(&format!("/api/seats/3/history?from={}&to={now}", now - 600_000))
        .unwrap();
    let points = history
        .as_array()
        .or_else(|| history["points"].as_array())
        .cloned()
        .unwrap_or_default();
    assert!(points.len() as i64 >= count, "history after restart: {history}");
}

#[test]
fn run_refuses_an_invalid_config_with_its_position_and_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(&config, "[thresholds]\nwarn_c = 70\ncritical_c = \"hot\"\n").unwrap();
    let out = std::process::Command::new(hemiwatch_tests::harness::hemiwatch_bin())
        .arg("run")
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad.toml:3:"), "{stderr}");
}

fn rusqlite_open(path: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap()
}
