//! Detection on the monotonic clock, stamps on the wall clock (issue 17 item 3), end to end: the
//! real `hemiwatch run` under libfaketime (Debian `faketime`, `scripts/setup.sh`), whose wall
//! clock the test steps 10 minutes back, or forward, while a simulated seat heats toward
//! critical. `FAKETIME_DONT_FAKE_MONOTONIC=1` leaves the monotonic clock alone — the point: the
//! daemon's detection must not see the step. Three daemons run side by side — no step, a step
//! back, a step forward — and the stepped ones must predict the overheat as soon as the
//! unstepped one (within [`ON_TIME`]), raise no silence, record the step as a `clock_stepped`
//! event, and stamp what they store and show on the stepped wall clock.

use std::ffi::OsStr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use hemiwatch::testkit::Deadline;
use hemiwatch_tests::harness::{line_toml, seat_toml, sim_line, Daemon};
use serde_json::Value;

/// The step: 10 minutes, as the issue states it (an NTP correction, an operator fixing the time).
const STEP_S: i64 = 600;
/// When the test steps the clock, after the daemon started: before the prediction can come
/// (it needs 2 min of history), while the seat heats.
const STEP_AFTER: Duration = Duration::from_secs(60);
/// How far a stepped daemon's prediction may be from the unstepped one's: scheduling noise of
/// three daemons on a loaded 2-core machine. A daemon detecting on the wall clock misses it by
/// minutes (the issue saw more than 4 min after a 7-minute step back).
const ON_TIME: Duration = Duration::from_secs(20);
/// How far a stamp may be from the (stepped) wall clock read by the test: the prediction's
/// confirmation and the test's polling.
const STAMP_WITHIN_MS: i64 = 30_000;

/// libfaketime's thread-safe build, where Debian puts it.
fn libfaketime() -> PathBuf {
    let candidates = std::fs::read_dir("/usr/lib")
        .into_iter()
        .flatten()
        .flatten()
        .map(|d| d.path().join("faketime/libfaketimeMT.so.1"))
        .chain([PathBuf::from("/usr/lib/faketime/libfaketimeMT.so.1")]);
    candidates
        .into_iter()
        .find(|p| p.exists())
        .expect("libfaketime is missing: run scripts/setup.sh (Debian package `faketime`)")
}

fn real_ms() -> i64 {
    hemiwatch::unix_ms() as i64
}

/// What one daemon did.
#[derive(Debug)]
struct Outcome {
    step_s: i64,
    /// From the daemon's start to `overheat_predicted` firing in its API.
    predicted_after: Duration,
    /// The firing alert as the API showed it, and the test's real wall clock then.
    alert: Value,
    seen_at_real_ms: i64,
    /// The seat's `last_seen_ms` as the API showed it, and the real wall clock then.
    last_seen_ms: i64,
    last_seen_real_ms: i64,
    /// `clock_stepped` events in the database.
    steps_recorded: Vec<String>,
    /// Every alert kind the daemon raised.
    kinds: Vec<String>,
}

/// Runs a heating seat and a daemon whose wall clock steps by `step_s` after [`STEP_AFTER`].
fn run(step_s: i64) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let stamp_file = dir.path().join("faketime");
    std::fs::write(&stamp_file, "+0\n").unwrap();
    let lib = libfaketime();
    let env: [(&str, &OsStr); 4] = [
        ("LD_PRELOAD", lib.as_os_str()),
        ("FAKETIME_TIMESTAMP_FILE", stamp_file.as_os_str()),
        // Re-read the file every second (the default caches it for 10 s).
        ("FAKETIME_CACHE_DURATION", OsStr::new("1")),
        ("FAKETIME_DONT_FAKE_MONOTONIC", OsStr::new("1")),
    ];
    let body = line_toml("a", dir.path()) + &seat_toml(1, "a", None);
    // Seat 1 heats from 5 s at 6 °C/min (`--scenario runaway`).
    let _sim = sim_line(&dir.path().join("a"), 1, 1, &["--scenario", "runaway"]).unwrap();
    let daemon = Daemon::start_with_env(dir.path(), "1s", &body, &env).unwrap();
    let started = Instant::now();
    let mut stepped = step_s == 0;
    let deadline = Deadline::after(
        Duration::from_secs(360),
        format!("overheat_predicted with a {step_s} s step"),
    );
    let (alert, seen_at_real_ms) = loop {
        if !stepped && started.elapsed() >= STEP_AFTER {
            std::fs::write(&stamp_file, format!("{step_s:+}\n")).unwrap();
            stepped = true;
        }
        let alerts = daemon.get("/api/alerts").unwrap_or(Value::Null);
        if let Some(a) = alerts["alerts"].as_array().and_then(|l| {
            l.iter()
                .find(|a| a["kind"] == "overheat_predicted" && a["state"] == "firing")
        }) {
            break (a.clone(), real_ms());
        }
        deadline
            .check()
            .unwrap_or_else(|e| panic!("{e}; log:\n{}", daemon.log_text()));
        std::thread::sleep(Duration::from_millis(250));
    };
    let predicted_after = started.elapsed();
    let seats = daemon.seats().unwrap();
    let last_seen_real_ms = real_ms();
    let last_seen_ms = seats[&1]["last_seen_ms"].as_i64().expect("seat 1 last seen");
    let all = daemon.get("/api/alerts").unwrap();
    let kinds = all["alerts"]
        .as_array()
        .map(|l| {
            l.iter()
                .filter_map(|a| a["kind"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let conn =
        rusqlite::Connection::open_with_flags(&daemon.database, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let steps_recorded = conn
        .prepare("SELECT detail FROM events WHERE kind = 'clock_stepped'")
        .unwrap()
        .query_map([], |r| r.get::<_, String>(0))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    Outcome {
        step_s,
        predicted_after,
        alert,
        seen_at_real_ms,
        last_seen_ms,
        last_seen_real_ms,
        steps_recorded,
        kinds,
    }
}

#[test]
fn a_ten_minute_wall_clock_step_changes_no_prediction_and_stamps_follow_the_wall_clock() {
    let runs: Vec<Outcome> = std::thread::scope(|s| {
        let handles: Vec<_> = [0, -STEP_S, STEP_S]
            .into_iter()
            .map(|step| s.spawn(move || run(step)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("a run panicked"))
            .collect()
    });
    let control = &runs[0];
    for r in &runs {
        eprintln!(
            "step {:+} s: overheat_predicted after {:?}; clock_stepped events {:?}",
            r.step_s, r.predicted_after, r.steps_recorded
        );
    }
    for r in &runs[1..] {
        let late = r.predicted_after.abs_diff(control.predicted_after);
        assert!(
            late <= ON_TIME,
            "after a {:+} s wall-clock step the prediction came after {:?}, without a step after {:?}",
            r.step_s,
            r.predicted_after,
            control.predicted_after
        );
        assert!(
            !r.kinds.iter().any(|k| k == "seat_silent" || k == "line_down"),
            "a {:+} s step raised a silence: {:?}",
            r.step_s,
            r.kinds
        );
        assert_eq!(
            r.steps_recorded.len(),
            1,
            "the {:+} s step is one clock_stepped event",
            r.step_s
        );
        let direction = if r.step_s < 0 { "back" } else { "forward" };
        assert!(r.steps_recorded[0].contains(direction), "{:?}", r.steps_recorded);
    }
    assert!(
        control.steps_recorded.is_empty(),
        "no step, no event: {:?}",
        control.steps_recorded
    );
    // Stamps follow the daemon's (stepped) wall clock: the alert's last change and the seat's
    // last frame are stamped near the test's real clock plus the step.
    for r in &runs {
        let wall = |real: i64| real + r.step_s * 1000;
        let updated = r.alert["updated_at_ms"].as_i64().expect("updated_at_ms");
        assert!(
            (updated - wall(r.seen_at_real_ms)).abs() <= STAMP_WITHIN_MS,
            "step {:+} s: the alert is stamped {} ms off the daemon's wall clock: {}",
            r.step_s,
            updated - wall(r.seen_at_real_ms),
            r.alert
        );
        assert!(
            (r.last_seen_ms - wall(r.last_seen_real_ms)).abs() <= 5_000,
            "step {:+} s: the seat's last_seen_ms is {} ms off the daemon's wall clock",
            r.step_s,
            r.last_seen_ms - wall(r.last_seen_real_ms)
        );
    }
}
