//! Storage: one SQLite file (rusqlite, bundled SQLite) in WAL mode holding seats, events, alerts
//! with their history and acknowledgements, silences, the notification outbox, and telemetry
//! history (raw samples for `raw_retention`, 1-minute min/max/mean rollups beyond it).
//!
//! One writer thread owns the write connection and commits in batches: samples wait in memory
//! at most `flush_interval` (the documented loss window of a `kill -9`: at most that much of
//! samples; everything committed survives), while alert changes and events are committed at
//! once, together with the outbox rows they owe, so a firing alert is never lost nor its
//! notification forgotten. Readers (HTTP history, the outbox worker, start-up restore) use their
//! own connections, which WAL lets run beside the writer.
//!
//! A failing disk does not silence the monitor: a commit SQLite refuses keeps its alert changes,
//! acknowledgements, events and silences in memory for the next attempt (samples are dropped),
//! the notifications they owe are delivered from memory (`held`), and the state task raises
//! `storage_failing` from [`StorageCounters::failing`] (`health`). A file that cannot be opened
//! is moved aside and replaced (`recover`).

mod health;
mod held;
mod outbox;
mod reader;
mod recover;
mod schema;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Duration;

use hemiwatch_protocol::SeatId;
use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use crate::model::{AlertView, EventView, SeatPlace};
use crate::sink::Notification;

pub use held::{HeldNotification, HeldOutbox, HELD_MAX};
pub use outbox::{OutboxBell, OutboxDoorbell, SqliteOutbox};
pub use reader::{Reader, Restored, SeatRecord};
pub use recover::Recovery;
/// The schema version this build writes (`PRAGMA user_version`), for tests that check a file.
pub use schema::VERSION as SCHEMA_VERSION;

/// How many operations may wait for the writer before samples are dropped (and counted): about
/// 40 s of a full hemicycle at 2 Hz, so a slow disk stalls nothing upstream.
const QUEUE: usize = 50_000;

/// Where and how long to keep things.
#[derive(Clone, Debug)]
pub struct StorageSettings {
    /// The SQLite file (created with its folder if missing).
    pub path: PathBuf,
    /// Raw samples older than this become 1-minute rollups.
    pub raw_retention: Duration,
    /// Rollups older than this are deleted.
    pub rollup_retention: Duration,
    /// Samples are committed at least this often.
    pub flush_interval: Duration,
    /// Names of the configured sinks: an alert change owes one outbox row to each.
    pub sinks: Vec<String>,
}

/// Why storage failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// SQLite refused (corrupt file, disk full, permissions…).
    #[error("SQLite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The folder of the database could not be created.
    #[error("cannot create {path}: {source}")]
    Folder {
        /// The folder.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// The file was written by a newer Hemiwatch.
    #[error("the database has schema version {found}; this build understands up to {supported}")]
    TooNew {
        /// Version in the file.
        found: u32,
        /// Version of this build.
        supported: u32,
    },
    /// A stored JSON column did not parse (hand-edited or corrupt row).
    #[error("stored row does not parse: {0}")]
    Json(#[from] serde_json::Error),
    /// The writer thread is gone (it failed earlier; see the log).
    #[error("the storage writer has stopped")]
    WriterGone,
    /// A flush's commit failed: what it covered is kept in memory for the next attempt (the
    /// writer's own error is in the message), not on disk.
    #[error("not committed ({0}); kept in memory and written once writes succeed")]
    NotCommitted(String),
}

/// A silence as stored: what it matches and until when (the alert engine owns its meaning).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoredSilence {
    /// Silence id.
    pub id: i64,
    /// Unix ms when it expires.
    pub until_ms: u64,
    /// The engine's full view of it, as JSON.
    pub view: serde_json::Value,
}

/// What the daemon asks storage to record.
#[derive(Debug)]
pub enum Record {
    /// Configured seats, written at start-up so the file is self-describing.
    Seats(Vec<SeatPlace>),
    /// A seat said `Hello`: its boot, firmware and board.
    SeatSeen {
        /// Seat.
        seat: SeatId,
        /// Boot identity.
        boot_id: Option<u32>,
        /// Firmware version.
        firmware: Option<String>,
        /// Board kind.
        board: Option<String>,
        /// Unix ms.
        at_ms: u64,
    },
    /// A seat's `Hello` opened a session: remembered so that a replay of it is refused after a
    /// restart (`hellos` keeps the highest counter per boot, the last boots per seat).
    HelloSeen {
        /// Seat.
        seat: SeatId,
        /// Boot identity.
        boot_id: u32,
        /// The `Hello`'s full frame counter.
        counter: u32,
        /// Unix ms.
        at_ms: u64,
    },
    /// Telemetry samples (the console channel, 0, each), one record per batch of frames: a channel
    /// operation (and a wake-up of the writer) per sample cost more than the rest of the ingest
    /// path.
    Samples(Vec<SampleRow>),
    /// An event for the seat's panel and the audit trail.
    Event(EventView),
    /// An alert changed; `notify` owes a notification to every sink.
    Alert {
        /// Its current view.
        view: Box<AlertView>,
        /// The notification, on firing and resolved transitions.
        notify: Option<Box<Notification>>,
    },
    /// A silence was created or changed.
    Silence(StoredSilence),
    /// Commit everything buffered now and answer whether the commit succeeded (tests, a write
    /// answered once committed): `Err` carries why SQLite refused.
    Flush(mpsc::SyncSender<Result<(), String>>),
    /// Run once what was recorded before it has been through a commit attempt, with its result
    /// (`Err`: SQLite refused, the records are kept in memory). How the daemon publishes an
    /// alert only once it is committed, or known to be kept in memory during an outage.
    AfterCommit(AfterCommit),
    /// Sets a pragma on the writer's connection, which only that connection sees: how tests
    /// give the daemon a full disk without filling one (`max_page_count` below the file's size:
    /// no commit may grow it) or a disk refusing every write (`query_only`), then end the outage.
    Pragma {
        /// Pragma name.
        name: &'static str,
        /// Its value.
        value: i64,
    },
    /// Commit everything buffered and stop the writer (graceful shutdown; later records fail
    /// with [`StorageError::WriterGone`]).
    Close,
}

/// What an after-commit hook is: called once with the commit's result (`Err`: why SQLite
/// refused).
pub type AfterCommitFn = dyn FnOnce(Result<(), &str>) + Send;

/// What [`Record::AfterCommit`] runs, on the writer thread: short, non-blocking work only.
pub struct AfterCommit(pub Box<AfterCommitFn>);

impl std::fmt::Debug for AfterCommit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AfterCommit(..)")
    }
}

/// One telemetry sample as stored (the console channel, 0).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SampleRow {
    /// Seat.
    pub seat: SeatId,
    /// Unix ms it arrived.
    pub t_ms: u64,
    /// Temperature, centi-°C.
    pub temp_centi: i16,
    /// Status flags bits.
    pub flags: u8,
}

/// Storage counters, for metrics and tests.
#[derive(Debug, Default)]
pub struct StorageCounters {
    /// Samples committed.
    pub samples: AtomicU64,
    /// Samples dropped because the writer fell behind.
    pub dropped: AtomicU64,
    /// Transactions committed.
    pub commits: AtomicU64,
    /// Total time spent committing, µs.
    pub commit_micros: AtomicU64,
    /// Commits that failed (logged at the start of an outage, then once a minute).
    pub errors: AtomicU64,
    /// Unix ms since when commits fail; 0 while they succeed.
    pub failing_since_ms: AtomicU64,
    /// Why the last failed commit failed.
    pub last_error: std::sync::Mutex<String>,
    /// Records (alerts, acknowledgements, events, silences) kept in memory for the next attempt.
    pub kept: AtomicU64,
    /// Records dropped because more than [`KEPT_MAX`] waited.
    pub kept_dropped: AtomicU64,
    /// Notifications held in memory while the outbox cannot be written.
    pub held: AtomicU64,
    /// Notifications dropped from memory beyond [`HELD_MAX`].
    pub held_dropped: AtomicU64,
    /// Records sent to the writer and not yet taken by it (its queue length).
    pub queued: AtomicU64,
    /// What a shutdown could not write despite its last attempts, one line per record (empty
    /// when nothing was lost).
    pub lost_at_shutdown: std::sync::Mutex<Vec<String>>,
}

impl StorageCounters {
    /// Since when and why commits fail, while they do.
    pub fn failing(&self) -> Option<(u64, String)> {
        let since = self.failing_since_ms.load(Ordering::Relaxed);
        (since != 0).then(|| {
            let e = self.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone();
            (since, e)
        })
    }
}

/// Records kept in memory at most while commits fail (about an hour of a busy hemicycle's alert
/// changes and events); beyond it the oldest are dropped and counted.
pub const KEPT_MAX: usize = 20_000;

/// The daemon's handle on storage: cheap to clone, never blocks on the disk for samples.
#[derive(Clone, Debug)]
pub struct Storage {
    tx: SyncSender<Record>,
    counters: Arc<StorageCounters>,
    held: HeldOutbox,
    path: PathBuf,
}

impl Storage {
    /// Opens (creating or migrating) the database, restores what a restart needs, and starts the
    /// writer thread. `doorbell` is rung after each commit that wrote outbox rows.
    pub fn open(
        settings: &StorageSettings,
        doorbell: OutboxDoorbell,
    ) -> Result<(Self, Restored, std::thread::JoinHandle<()>), StorageError> {
        let (mut conn, restored) = match open_and_restore(&settings.path) {
            Ok(opened) => opened,
            Err(e) if recover::is_file_fault(&e) && settings.path.exists() => {
                let moved = recover::move_aside(&settings.path)?;
                tracing::error!(
                    error = %e,
                    moved_to = %moved.display(),
                    "the database cannot be opened; moved aside, starting on a fresh file"
                );
                let mut conn = open_connection(&settings.path)?;
                let recovery = recover::salvage(&mut conn, &moved, &e);
                tracing::warn!("{}", recovery.describe());
                let mut restored = reader::restore(&conn)?;
                restored.recovery = Some(recovery);
                (conn, restored)
            }
            Err(e) => return Err(e),
        };
        let counters = Arc::new(StorageCounters::default());
        let held = HeldOutbox::new(counters.clone());
        let (tx, rx) = mpsc::sync_channel(QUEUE);
        // A fresh start compacts what aged while the daemon was down.
        writer::housekeeping(&mut conn, settings, crate::unix_ms())?;
        let thread = writer::spawn(
            conn,
            rx,
            settings.clone(),
            counters.clone(),
            doorbell,
            held.clone(),
        )?;
        Ok((
            Self {
                tx,
                counters,
                held,
                path: settings.path.clone(),
            },
            restored,
            thread,
        ))
    }

    /// Records something. Samples are dropped (and counted) if the writer is 40 s behind;
    /// everything else waits for room, because alerts and events must not be lost.
    pub fn record(&self, record: Record) -> Result<(), StorageError> {
        let Record::Samples(rows) = &record else {
            return self.send(record);
        };
        let n = rows.len() as u64;
        match self.tx.try_send(record) {
            Ok(()) => {
                self.counters.queued.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Err(TrySendError::Full(_)) => {
                self.counters.dropped.fetch_add(n, Ordering::Relaxed);
                Ok(())
            }
            Err(TrySendError::Disconnected(_)) => Err(StorageError::WriterGone),
        }
    }

    /// Commits everything recorded so far and waits for it. `Ok` only once it is on disk:
    /// a refused commit is [`StorageError::NotCommitted`] (the records stay kept in memory).
    pub fn flush(&self) -> Result<(), StorageError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.send(Record::Flush(tx))?;
        rx.recv()
            .map_err(|_| StorageError::WriterGone)?
            .map_err(StorageError::NotCommitted)
    }

    /// Runs `then` on the writer thread once everything recorded before has been through a
    /// commit attempt (with its result), or at once with `Err` if the writer is gone.
    pub fn after_commit(&self, then: impl FnOnce(Result<(), &str>) + Send + 'static) {
        self.counters.queued.fetch_add(1, Ordering::Relaxed);
        if let Err(mpsc::SendError(record)) = self.tx.send(Record::AfterCommit(AfterCommit(Box::new(then)))) {
            self.counters.queued.fetch_sub(1, Ordering::Relaxed);
            if let Record::AfterCommit(AfterCommit(then)) = record {
                then(Err("the storage writer has stopped"));
            }
        }
    }

    /// Commits what is buffered and stops the writer thread, even while other handles exist.
    pub fn close(&self) {
        let _ = self.send(Record::Close);
    }

    /// Sends a record the writer must get, counting it in its queue.
    fn send(&self, record: Record) -> Result<(), StorageError> {
        self.counters.queued.fetch_add(1, Ordering::Relaxed);
        self.tx.send(record).map_err(|_| {
            self.counters.queued.fetch_sub(1, Ordering::Relaxed);
            StorageError::WriterGone
        })
    }

    /// Sets a pragma on the writer's connection (see [`Record::Pragma`]).
    pub fn set_writer_pragma(&self, name: &'static str, value: i64) -> Result<(), StorageError> {
        self.send(Record::Pragma { name, value })
    }

    /// Notifications held in memory while the outbox cannot be written (the delivery worker
    /// delivers them).
    pub fn held(&self) -> &HeldOutbox {
        &self.held
    }

    /// Counters of the writer.
    pub fn counters(&self) -> &Arc<StorageCounters> {
        &self.counters
    }

    /// A new read connection (HTTP history, tools).
    pub fn reader(&self) -> Result<Reader, StorageError> {
        Reader::open(&self.path)
    }

    /// A new outbox connection for the delivery worker.
    pub fn outbox(&self) -> Result<SqliteOutbox, StorageError> {
        SqliteOutbox::open(&self.path)
    }
}

/// Opens the database and reads back what a restart needs: everything that fails when the file
/// itself is damaged.
fn open_and_restore(path: &Path) -> Result<(Connection, Restored), StorageError> {
    let conn = open_connection(path)?;
    let restored = reader::restore(&conn)?;
    Ok((conn, restored))
}

/// Opens a connection with the schema prepared.
fn open_connection(path: &Path) -> Result<Connection, StorageError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| StorageError::Folder {
            path: dir.to_owned(),
            source,
        })?;
    }
    let mut conn = Connection::open(path)?;
    schema::prepare(&mut conn)?;
    Ok(conn)
}
