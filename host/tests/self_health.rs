//! The daemon's own health: its process resources and its state task's lateness in `/metrics`
//! and `/api/status`, and a state task kept from running is a `daemon_stalled` alert.

use std::time::Duration;

use hemiwatch::alert::{AlertState, Kind};
use hemiwatch::sim::{Scenario, SimSeat};
use hemiwatch::testkit::{place, seat_key, wait_until, SettingsBuilder, TestDaemon};
use serde_json::Value;

async fn daemon() -> TestDaemon {
    let seats = vec![SimSeat::new(1, seat_key(1), Scenario::Steady, 250, 3, 0)];
    TestDaemon::start(
        SettingsBuilder::new()
            .seat(place(1, "A", Some("a")))
            .period_ms(250)
            .pty_line("a", seats),
    )
    .await
    .expect("daemon started")
}

/// The value of an unlabelled series in a text exposition.
fn series(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_reports_its_own_resources_and_lateness() {
    let d = daemon().await;
    // Let a few ticks pass.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let metrics = reqwest::get(d.url("/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let rss = series(&metrics, "hemiwatch_process_resident_memory_bytes").expect("rss in /metrics");
    assert!(rss > 1e6, "rss {rss}");
    assert!(series(&metrics, "hemiwatch_process_cpu_seconds_total").is_some_and(|c| c > 0.0));
    assert!(series(&metrics, "hemiwatch_process_open_fds").is_some_and(|n| n >= 3.0));
    let age = series(&metrics, "hemiwatch_state_task_last_tick_age_seconds").expect("tick age");
    assert!(age < 1.0, "the state task ticks: {age}");
    assert!(series(&metrics, "hemiwatch_state_task_tick_lag_seconds_count").is_some_and(|n| n > 0.0));
    assert!(series(&metrics, "hemiwatch_storage_queue").is_some());

    let status: Value = reqwest::get(d.url("/api/status"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let daemon = &status["daemon"];
    assert!(
        daemon["process"]["rss_bytes"]
            .as_u64()
            .is_some_and(|b| b > 1_000_000),
        "{status}"
    );
    assert!(
        daemon["process"]["open_fds"].as_u64().is_some_and(|n| n >= 3),
        "{status}"
    );
    assert!(daemon["process"]["cpu_seconds"].as_f64().is_some(), "{status}");
    assert!(
        daemon["tick_lag_ms"].as_f64().is_some_and(|l| l < 1_000.0),
        "{status}"
    );
    assert!(daemon["last_tick_ms"].as_u64().is_some(), "{status}");
    assert!(daemon["storage_queue"].as_u64().is_some(), "{status}");
    d.stop().await.unwrap();
}

/// On a single-threaded runtime, a blocking call in any task keeps the state task from running:
/// its next tick fires late, and that is an alert.
#[tokio::test(flavor = "current_thread")]
async fn a_state_task_kept_from_running_is_an_alert() {
    let d = daemon().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stalled = |d: &TestDaemon| {
        let m = d.live().model.read().unwrap();
        m.alerts
            .values()
            .find(|a| a.kind == Kind::DaemonStalled && a.state == AlertState::Firing)
            .cloned()
    };
    assert!(stalled(&d).is_none());
    // Blocks the only runtime thread, as a blocking call on the runtime would.
    std::thread::sleep(Duration::from_millis(1_500));
    wait_until(Duration::from_secs(5), "daemon_stalled firing", || async {
        Ok(stalled(&d).is_some())
    })
    .await
    .unwrap();
    let a = stalled(&d).unwrap();
    assert!(a.summary.contains("ms late"), "{}", a.summary);
    d.stop().await.unwrap();
}
