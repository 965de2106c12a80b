//! A database file that cannot be opened — random bytes, a truncated file, a newer schema — never
//! stops monitoring: it is moved aside, what reads cleanly is copied into a fresh file, and a
//! `storage_recovered` alert says what happened until someone acknowledges it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hemiwatch::alert::{AlertState, EventKind, Kind};
use hemiwatch::daemon::{run, Running};
use hemiwatch::model::{AlertView, EventView};
use hemiwatch::source::Endpoint;
use hemiwatch::storage::{OutboxDoorbell, Record, Storage, StorageSettings};
use hemiwatch::testkit::{place, wait_until, SettingsBuilder};
use rand::RngCore;
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "t0ken";

/// A daemon on `dir`'s `hemiwatch.sqlite`, started; its handles, stop token and task.
async fn start(
    dir: &Path,
) -> (
    Running,
    CancellationToken,
    tokio::task::JoinHandle<Result<(), hemiwatch::daemon::DaemonError>>,
) {
    // A line keeps the state task running (it ends when every line has stopped).
    let settings = SettingsBuilder::new()
        .seat(place(1, "A", None))
        .line("a", Endpoint::parse("/dev/null", 115_200).unwrap())
        .token(TOKEN)
        .flush_interval(Duration::from_millis(100))
        .build(dir);
    let stop = CancellationToken::new();
    let (tx, mut rx) = tokio::sync::mpsc::channel(1);
    let task = tokio::spawn(run(settings, stop.clone(), move |r| {
        let _ = tx.try_send(r.clone());
    }));
    match rx.recv().await {
        Some(r) => (r, stop, task),
        None => panic!("the daemon did not start: {:?}", task.await),
    }
}

fn recovered(r: &Running) -> Option<AlertView> {
    let m = r.live.model.read().unwrap();
    m.alerts
        .values()
        .find(|a| a.kind == Kind::StorageRecovered)
        .cloned()
}

/// Files next to the database moved aside.
fn moved_aside(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| {
                n.starts_with("hemiwatch.sqlite.corrupt-") && !n.ends_with("-wal") && !n.ends_with("-shm")
            })
        })
        .collect();
    v.sort();
    v
}

fn user_version(path: &Path) -> u32 {
    let c = rusqlite::Connection::open(path).unwrap();
    c.pragma_query_value(None, "user_version", |r| r.get(0)).unwrap()
}

/// Runs the daemon on whatever is in `dir`, checks the alert, acknowledges it (which resolves
/// it) and stops; the alert's summary.
async fn run_and_ack(dir: &Path) -> String {
    let (r, stop, task) = start(dir).await;
    let alert = recovered(&r).expect("a storage_recovered alert");
    assert_eq!(alert.state, AlertState::Firing);
    let resp = reqwest::Client::new()
        .post(format!("http://{}/api/alerts/{}/ack", r.http_addr, alert.id))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(r#"{"by":"ana","comment":"seen"}"#)
        .send()
        .await
        .unwrap();
    let status = resp.status();
    assert!(status.is_success(), "{status}: {}", resp.text().await.unwrap());
    wait_until(Duration::from_secs(5), "the ack resolves it", || async {
        Ok(recovered(&r).is_some_and(|a| a.state == AlertState::Resolved))
    })
    .await
    .unwrap();
    stop.cancel();
    task.await.unwrap().unwrap();
    alert.summary
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_bytes_are_moved_aside_and_monitoring_starts_fresh() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hemiwatch.sqlite");
    let mut junk = vec![0u8; 64 * 1024];
    rand::rng().fill_bytes(&mut junk);
    std::fs::write(&db, &junk).unwrap();

    let summary = run_and_ack(dir.path()).await;
    let moved = moved_aside(dir.path());
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert_eq!(std::fs::read(&moved[0]).unwrap(), junk, "moved aside untouched");
    assert!(summary.contains("moved to"), "{summary}");
    assert!(summary.contains("nothing could be copied"), "{summary}");
    assert_eq!(
        user_version(&db),
        hemiwatch::storage::SCHEMA_VERSION,
        "a fresh database"
    );
    // Acknowledged: the next start raises nothing.
    let (r, stop, task) = start(dir.path()).await;
    assert!(recovered(&r).is_none_or(|a| a.state == AlertState::Resolved));
    assert_eq!(moved_aside(dir.path()).len(), 1);
    stop.cancel();
    task.await.unwrap().unwrap();
}

/// A database with history, written through storage and closed.
fn database_with_history(path: &Path) {
    let settings = StorageSettings {
        path: path.to_owned(),
        raw_retention: Duration::from_secs(3600),
        rollup_retention: Duration::from_secs(3600),
        flush_interval: Duration::from_millis(100),
        sinks: Vec::new(),
    };
    let (s, _, thread) = Storage::open(&settings, OutboxDoorbell::new()).unwrap();
    s.record(Record::Seats(vec![place(1, "A", None)])).unwrap();
    let now = hemiwatch::unix_ms();
    for i in 0..2_000u64 {
        s.record(Record::Event(EventView {
            at_ms: now + i,
            seat: Some(1),
            line: None,
            kind: EventKind::SeatRebooted,
            detail: format!("reboot number {i}, with enough words to fill a few pages of events"),
        }))
        .unwrap();
    }
    s.flush().unwrap();
    s.close();
    thread.join().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_truncated_file_is_moved_aside_and_what_reads_is_copied() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hemiwatch.sqlite");
    database_with_history(&db);
    let len = std::fs::metadata(&db).unwrap().len();
    assert!(len > 40 * 4096, "history spans many pages ({len} bytes)");
    // Cut the file at a third: the schema page survives, most of the events do not.
    let f = std::fs::OpenOptions::new().write(true).open(&db).unwrap();
    f.set_len(len / 3 / 4096 * 4096).unwrap();
    drop(f);

    let summary = run_and_ack(dir.path()).await;
    assert_eq!(moved_aside(dir.path()).len(), 1);
    assert!(summary.contains("moved to"), "{summary}");
    assert!(summary.contains("copied 1 seats"), "{summary}");
    assert!(summary.contains("the rest is unreadable: events"), "{summary}");
    // The events before the cut are copied, the ones after it are lost.
    let c = rusqlite::Connection::open(&db).unwrap();
    let events: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM events WHERE kind = 'seat_rebooted'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(events > 100 && events < 2_000, "{events} events copied");
    assert!(summary.contains(&format!("{events} events")), "{summary}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_schema_is_moved_aside_whole_not_downgraded() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("hemiwatch.sqlite");
    database_with_history(&db);
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.pragma_update(None, "user_version", 99).unwrap();
    }
    let before = std::fs::read(&db).unwrap();

    let summary = run_and_ack(dir.path()).await;
    let moved = moved_aside(dir.path());
    assert_eq!(moved.len(), 1);
    assert_eq!(user_version(&moved[0]), 99, "the newer file is kept as it was");
    assert_eq!(std::fs::read(&moved[0]).unwrap(), before);
    assert_eq!(user_version(&db), hemiwatch::storage::SCHEMA_VERSION);
    assert!(summary.contains("schema version 99"), "{summary}");
    let c = rusqlite::Connection::open(&db).unwrap();
    let events: i64 = c
        .query_row(
            "SELECT COUNT(*) FROM events WHERE kind = 'seat_rebooted'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(events, 0, "nothing copied from a schema this build does not know");
}
