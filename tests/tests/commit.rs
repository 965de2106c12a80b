//! "Alerts and acknowledgements are committed at once", tested the only way that can fail: the
//! real `hemiwatch run` process, samples flushed only every 30 s, is SIGKILLed 100 ms after an
//! alert appears in its API (its commit is started at once, not awaited before it shows), and
//! immediately after an acknowledgement's 2xx response (which is sent only once the ack is
//! committed); its database, read after each kill, and the restarted daemon still have them.

use std::time::{Duration, Instant};

use hemiwatch::testkit::{client, Deadline};
use hemiwatch_tests::harness::{line_toml, seat_toml, sim_line, Daemon, TOKEN};
use serde_json::Value;

/// Long enough that nothing a test sees can have come from the periodic flush.
const FLUSH: &str = "30s";
/// How long after an alert shows in the API its commit may still be under way: one SQLite
/// commit, and 300 times shorter than the flush interval.
const ALERT_COMMITTED_WITHIN: Duration = Duration::from_millis(100);

/// The stored view of alert `id` (`alerts.view`), read from outside as another process would.
fn stored_alert(db: &std::path::Path, id: i64) -> Option<Value> {
    let conn = rusqlite::Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("open the database read-only");
    conn.query_row("SELECT view FROM alerts WHERE id = ?1", [id], |r| {
        r.get::<_, String>(0)
    })
    .ok()
    .map(|v| serde_json::from_str(&v).expect("a stored view is JSON"))
}

#[test]
fn an_alert_and_an_ack_survive_a_sigkill_milliseconds_after_they_are_shown() {
    let dir = tempfile::tempdir().unwrap();
    let body = line_toml("a", dir.path()) + &seat_toml(1, "a", None);
    // The seat's sensor dies 3 s in: a sensor_fault alert, raised on the first faulty frame.
    let mut sim = sim_line(&dir.path().join("a"), 1, 1, &["--scenario", "sensor-fault"]).unwrap();
    let mut daemon = Daemon::start_flushing(dir.path(), FLUSH, &body).unwrap();

    // Poll as fast as the API answers, and pull the plug as soon as the alert's commit may be done.
    let deadline = Deadline::after(Duration::from_secs(15), "the sensor_fault alert in the API");
    let alert = loop {
        let alerts = daemon.get("/api/alerts").unwrap();
        if let Some(a) = alerts["alerts"]
            .as_array()
            .and_then(|l| l.iter().find(|a| a["kind"] == "sensor_fault"))
        {
            break a.clone();
        }
        deadline
            .check()
            .unwrap_or_else(|e| panic!("{e}; log:\n{}", daemon.log_text()));
    };
    let shown = Instant::now();
    std::thread::sleep(ALERT_COMMITTED_WITHIN);
    daemon.proc.kill();
    let gap = shown.elapsed();
    // No seat may raise it again: what the restarted daemon shows, it read from its database.
    sim.kill();
    let id = alert["id"].as_i64().expect("alert id");
    eprintln!("killed {gap:?} after alert {id} showed");
    let stored = stored_alert(&daemon.database, id);
    assert!(
        stored.is_some(),
        "alert {id}, shown by the API, is not in the database after a SIGKILL {gap:?} later (flush interval {FLUSH})"
    );

    daemon.restart().unwrap();
    let restored = daemon.get("/api/alerts?seat=1").unwrap();
    assert!(
        restored["alerts"]
            .as_array()
            .is_some_and(|l| l.iter().any(|a| a["id"] == id && a["kind"] == "sensor_fault")),
        "the restarted daemon shows alert {id}: {restored}"
    );

    let resp = client()
        .post(format!("{}/api/alerts/{id}/ack", daemon.url))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({"by": "ana", "comment": "spare sensor on its way"}))
        .send()
        .unwrap();
    let answered = Instant::now();
    daemon.proc.kill();
    let gap = answered.elapsed();
    assert!(resp.status().is_success(), "ack answered {}", resp.status());
    eprintln!("killed {gap:?} after the ack's response");
    let stored = stored_alert(&daemon.database, id).expect("the alert is still stored");
    assert_eq!(
        stored["ack"]["by"], "ana",
        "the acknowledgement, answered 2xx, is not in the database after a SIGKILL {gap:?} later (flush interval {FLUSH}): {stored}"
    );

    daemon.restart().unwrap();
    let restored = daemon.get("/api/alerts?seat=1").unwrap();
    let a = restored["alerts"]
        .as_array()
        .and_then(|l| l.iter().find(|a| a["id"] == id).cloned())
        .unwrap_or_else(|| panic!("alert {id} after the second restart: {restored}"));
    assert_eq!(a["ack"]["by"], "ana", "the restarted daemon shows the ack: {a}");
    assert_eq!(a["ack"]["comment"], "spare sensor on its way");
}
