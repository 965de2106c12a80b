//! The outbox worker on a real SQLite file, delivering to real HTTP receivers: each sink reads
//! only its own rows, so rows parked for a removed sink, a second sink of the same kind, a slow
//! receiver or a dead one never hold back the others; delivered rows are purged, undelivered ones
//! bounded, and a sink that keeps failing is counted and reported.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use hemiwatch::alert::{AlertState, Kind};
use hemiwatch::model::AlertView;
use hemiwatch::sink::outbox::{run_outbox, OutboxCounters, OutboxStore, FAILING_AFTER};
use hemiwatch::sink::{NamedSink, Notification, Sink, WebhookSink};
use hemiwatch::storage::{OutboxDoorbell, Record, Storage, StorageSettings};
use hemiwatch::testkit::{free_port, wait_until, WebhookReceiver};
use tokio_util::sync::CancellationToken;

fn settings(dir: &std::path::Path, sinks: &[&str]) -> StorageSettings {
    StorageSettings {
        path: dir.join("h.sqlite"),
        raw_retention: Duration::from_secs(86_400),
        rollup_retention: Duration::from_secs(90 * 86_400),
        flush_interval: Duration::from_millis(100),
        sinks: sinks.iter().map(|s| s.to_string()).collect(),
    }
}

fn view(id: i64) -> AlertView {
    AlertView {
        id,
        kind: Kind::Overheat,
        seat: Some(7),
        line: None,
        sector: Some("A".into()),
        state: AlertState::Firing,
        started_at_ms: 1_000,
        updated_at_ms: 1_000 + id as u64,
        predicted_critical_at_ms: None,
        summary: format!("alert {id}"),
        ack: None,
        silenced: false,
    }
}

fn notification(v: &AlertView) -> Notification {
    Notification {
        id: v.id,
        kind: v.kind,
        state: v.state,
        seat: v.seat,
        label: None,
        sector: v.sector.clone(),
        line: None,
        summary: v.summary.clone(),
        started_at_ms: v.started_at_ms,
        resolved_at_ms: None,
        predicted_critical_at_ms: None,
    }
}

/// Writes alerts `ids` to a database owing a notification to each of `sinks`, and closes it.
fn write_alerts(dir: &std::path::Path, sinks: &[&str], ids: std::ops::Range<i64>) {
    let (storage, _, thread) =
        Storage::open(&settings(dir, sinks), OutboxDoorbell::new()).expect("storage opens");
    for id in ids {
        let v = view(id);
        storage
            .record(Record::Alert {
                notify: Some(Box::new(notification(&v))),
                view: Box::new(v),
            })
            .expect("recorded");
    }
    storage.flush().expect("flushed");
    storage.close();
    thread.join().expect("writer joined");
}

fn webhook(name: &str, url: &str, timeout: Duration) -> NamedSink {
    NamedSink::new(name, Sink::Webhook(WebhookSink::new(url, timeout)))
}

/// The worker on the database in `dir`, delivering to `sinks`, until the token is cancelled.
fn start(dir: &std::path::Path, sinks: Vec<NamedSink>) -> (Arc<OutboxCounters>, CancellationToken) {
    let names: Vec<&str> = sinks.iter().map(|s| s.name.as_str()).collect();
    let (storage, _, _thread) =
        Storage::open(&settings(dir, &names), OutboxDoorbell::new()).expect("storage opens");
    let store = storage.outbox().expect("outbox connection");
    let counters = Arc::new(OutboxCounters::default());
    let shutdown = CancellationToken::new();
    tokio::spawn(run_outbox(
        Arc::new(Mutex::new(store)),
        sinks,
        OutboxDoorbell::new(),
        storage.held().clone(),
        counters.clone(),
        shutdown.clone(),
    ));
    (counters, shutdown)
}

fn ids(hook: &WebhookReceiver) -> Vec<i64> {
    hook.bodies().iter().filter_map(|b| b["id"].as_i64()).collect()
}

#[tokio::test]
async fn rows_for_a_removed_sink_do_not_block_the_others() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    // 100 rows owed to a sink since removed from the config, older than the live sink's row.
    write_alerts(dir.path(), &["removed"], 1..101);
    write_alerts(dir.path(), &["webhook"], 101..102);
    let hook = WebhookReceiver::start(0)?;
    let (_c, stop) = start(
        dir.path(),
        vec![webhook("webhook", &hook.url, Duration::from_secs(2))],
    );
    wait_until(Duration::from_secs(5), "the live sink gets its row", || async {
        Ok(ids(&hook) == [101])
    })
    .await?;
    let path = dir.path().join("h.sqlite");
    wait_until(Duration::from_secs(5), "its row marked delivered", || async {
        let mut store = hemiwatch::storage::SqliteOutbox::open(&path)?;
        let owed = store.owed_by_sink().map_err(anyhow::Error::msg)?;
        Ok(owed == [("removed".to_string(), 100)])
    })
    .await?;
    // The removed sink's rows are kept, and delivered to no one else.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(ids(&hook), [101]);
    stop.cancel();
    Ok(())
}

#[tokio::test]
async fn two_sinks_of_the_same_kind_each_get_their_own_rows() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    write_alerts(dir.path(), &["pager", "chat"], 1..4);
    let (pager, chat) = (WebhookReceiver::start(0)?, WebhookReceiver::start(0)?);
    let (_c, stop) = start(
        dir.path(),
        vec![
            webhook("pager", &pager.url, Duration::from_secs(2)),
            webhook("chat", &chat.url, Duration::from_secs(2)),
        ],
    );
    wait_until(
        Duration::from_secs(5),
        "both receivers get alerts 1..3",
        || async { Ok(ids(&pager) == [1, 2, 3] && ids(&chat) == [1, 2, 3]) },
    )
    .await?;
    // And nothing twice.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!((ids(&pager), ids(&chat)), (vec![1, 2, 3], vec![1, 2, 3]));
    stop.cancel();
    Ok(())
}

#[tokio::test]
async fn a_slow_sink_does_not_delay_the_others() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    write_alerts(dir.path(), &["slow", "fast"], 1..4);
    let slow = WebhookReceiver::start_slow(0, Duration::from_secs(4))?;
    let fast = WebhookReceiver::start(0)?;
    let (_c, stop) = start(
        dir.path(),
        vec![
            webhook("slow", &slow.url, Duration::from_secs(30)),
            webhook("fast", &fast.url, Duration::from_secs(2)),
        ],
    );
    // The slow receiver takes 12 s for its three; the fast one is not kept waiting behind it.
    wait_until(
        Duration::from_secs(3),
        "the fast receiver gets all three at once",
        || async { Ok(ids(&fast) == [1, 2, 3]) },
    )
    .await?;
    assert!(
        ids(&slow).len() <= 1,
        "the slow one is still busy: {:?}",
        ids(&slow)
    );
    stop.cancel();
    Ok(())
}

#[tokio::test]
async fn a_sink_that_keeps_failing_is_counted_and_reported_and_the_others_flow() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    write_alerts(dir.path(), &["dead", "live"], 1..3);
    // Nothing listens on this port: every attempt is refused.
    let dead_url = format!("http://127.0.0.1:{}/hook", free_port());
    let live = WebhookReceiver::start(0)?;
    let (counters, stop) = start(
        dir.path(),
        vec![
            webhook("dead", &dead_url, Duration::from_secs(2)),
            webhook("live", &live.url, Duration::from_secs(2)),
        ],
    );
    wait_until(Duration::from_secs(3), "the live sink delivers", || async {
        Ok(ids(&live) == [1, 2])
    })
    .await?;
    assert_eq!(counters.failing_summary(), None, "not yet 'keeps failing'");
    // Backoff 1 + 2 + 4 s before the fourth failed attempt.
    wait_until(Duration::from_secs(15), "sink_failing reported", || async {
        Ok(counters.failing_summary().is_some())
    })
    .await?;
    let summary = counters.failing_summary().unwrap_or_default();
    assert!(
        summary.contains("dead (") && !summary.contains("live ("),
        "{summary}"
    );
    let sinks = counters.sinks();
    assert!(sinks["dead"].consecutive_failures >= FAILING_AFTER, "{sinks:?}");
    assert_eq!((sinks["live"].delivered, sinks["live"].failed), (2, 0));
    stop.cancel();
    Ok(())
}

#[test]
fn delivered_rows_are_purged_and_undelivered_ones_bounded() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    write_alerts(dir.path(), &["a", "b"], 1..31);
    let mut store = hemiwatch::storage::SqliteOutbox::open(&dir.path().join("h.sqlite"))?;
    let first_b = store.owed("b", 1).map_err(anyhow::Error::msg)?;
    store
        .delivered(first_b[0].id, hemiwatch::unix_ms())
        .map_err(anyhow::Error::msg)?;
    let t = store.tidy(10).map_err(anyhow::Error::msg)?;
    assert_eq!(t.purged, 1, "the delivered row is gone");
    assert_eq!(t.dropped, [("a".to_string(), 20), ("b".to_string(), 19)]);
    let a = store.owed("a", 100).map_err(anyhow::Error::msg)?;
    let kept: Vec<i64> = a.iter().map(|i| i.notification.id).collect();
    assert_eq!(kept, (21..31).collect::<Vec<_>>(), "the newest are kept");
    Ok(())
}
