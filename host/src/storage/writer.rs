//! The writer thread: batches operations into transactions and keeps the history within its
//! retention. The only code that writes history, alerts and events.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, Transaction};

use super::health::Health;
use super::{
    HeldNotification, HeldOutbox, OutboxDoorbell, Record, StorageCounters, StorageError, StorageSettings,
    KEPT_MAX,
};
use crate::model::AlertView;
use crate::sink::Notification;

/// How often raw samples past retention are rolled up and old rollups deleted.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(60);
/// A batch this large is committed without waiting for the flush interval (bounds memory and
/// transaction size under a burst).
const MAX_BATCH: usize = 20_000;
/// Commits tried at shutdown for records still kept from failed commits, and their spacing:
/// 3 s in all, well inside systemd's default stop timeout (90 s, `DefaultTimeoutStopSec`).
const LAST_ATTEMPTS: u32 = 6;
const LAST_ATTEMPT_EVERY: Duration = Duration::from_millis(500);
/// One minute, the rollup bucket.
const MINUTE_MS: i64 = 60_000;

/// Starts the writer thread on `conn`.
pub(super) fn spawn(
    conn: Connection,
    rx: Receiver<Record>,
    settings: StorageSettings,
    counters: Arc<StorageCounters>,
    doorbell: OutboxDoorbell,
    held: HeldOutbox,
) -> Result<std::thread::JoinHandle<()>, StorageError> {
    std::thread::Builder::new()
        .name("hemiwatch-storage".into())
        .spawn(move || {
            let mut w = Writer {
                conn,
                settings,
                counters,
                doorbell,
                held,
                kept: Vec::new(),
                health: Health::default(),
            };
            w.run(rx)
        })
        .map_err(|source| StorageError::Folder {
            path: "writer thread".into(),
            source,
        })
}

/// A record that is not a sample, kept until a commit writes it: a failed commit keeps it for the
/// next attempt instead of dropping it, so alerts, acknowledgements and events survive an outage.
#[derive(Debug)]
enum Kept {
    /// Seats, a seat seen, an event, a silence.
    Op(Record),
    /// An alert change with the notification it owes. Once a commit failed, the notification is
    /// `held` in memory (one per sink) and delivered from there.
    Alert {
        view: Box<AlertView>,
        notify: Option<Box<Notification>>,
        held: Vec<Arc<HeldNotification>>,
    },
}

impl Kept {
    /// One line naming the record, for the list of what was lost.
    fn describe(&self) -> String {
        match self {
            Self::Alert { view, .. } => format!(
                "alert {} ({} {}{}) {}{}",
                view.id,
                view.kind,
                view.seat.map(|s| format!("seat {s}")).unwrap_or_default(),
                view.line
                    .as_deref()
                    .map(|l| format!(" line {l}"))
                    .unwrap_or_default(),
                view.state,
                view.ack
                    .as_ref()
                    .map(|a| format!(", acknowledged by {}", a.by))
                    .unwrap_or_default()
            ),
            Self::Op(Record::Event(e)) => format!(
                "event {} at {} ms{}{}: {}",
                e.kind.name(),
                e.at_ms,
                e.seat.map(|s| format!(" seat {s}")).unwrap_or_default(),
                e.line
                    .as_deref()
                    .map(|l| format!(" line {l}"))
                    .unwrap_or_default(),
                e.detail
            ),
            Self::Op(Record::Silence(s)) => format!("silence {} until {} ms", s.id, s.until_ms),
            Self::Op(Record::SeatSeen { seat, at_ms, .. }) => format!("seat {seat} seen at {at_ms} ms"),
            Self::Op(Record::Seats(places)) => format!("the list of {} configured seats", places.len()),
            Self::Op(other) => format!("{other:?}"),
        }
    }
}

impl From<Record> for Kept {
    fn from(r: Record) -> Self {
        match r {
            Record::Alert { view, notify } => Self::Alert {
                view,
                notify,
                held: Vec::new(),
            },
            other => Self::Op(other),
        }
    }
}

/// The writer thread's state.
struct Writer {
    conn: Connection,
    settings: StorageSettings,
    counters: Arc<StorageCounters>,
    doorbell: OutboxDoorbell,
    held: HeldOutbox,
    /// Records not written yet (a failed commit keeps them), oldest first.
    kept: Vec<Kept>,
    health: Health,
}

impl Writer {
    fn run(&mut self, rx: Receiver<Record>) {
        let mut batch: Vec<Record> = Vec::with_capacity(4096);
        // Samples buffered (an `Record::Samples` carries many).
        let mut rows = 0usize;
        let mut deadline = Instant::now() + self.settings.flush_interval;
        let mut next_housekeeping = Instant::now() + HOUSEKEEPING_EVERY;
        loop {
            let timeout = deadline.saturating_duration_since(Instant::now());
            let received = rx.recv_timeout(timeout);
            if received.is_ok() {
                let _ = self
                    .counters
                    .queued
                    .fetch_update(Relaxed, Relaxed, |n| Some(n.saturating_sub(1)));
            }
            let (urgent, closed) = match received {
                Ok(Record::Close) => (true, true),
                Ok(Record::Pragma { name, value }) => {
                    if let Err(e) = self.conn.pragma_update(None, name, value) {
                        tracing::error!(error = %e, pragma = name, "cannot set a pragma on the writer");
                    }
                    (false, false)
                }
                Ok(op) => {
                    let urgent = !matches!(op, Record::Samples(_) | Record::SeatSeen { .. });
                    rows += match &op {
                        Record::Samples(r) => r.len(),
                        _ => 1,
                    };
                    batch.push(op);
                    (urgent || rows >= MAX_BATCH, false)
                }
                Err(RecvTimeoutError::Timeout) => (true, false),
                Err(RecvTimeoutError::Disconnected) => (true, true),
            };
            if !urgent {
                continue;
            }
            if !batch.is_empty() || !self.kept.is_empty() || self.health.in_outage() {
                self.commit(&mut batch);
            }
            rows = 0;
            deadline = Instant::now() + self.settings.flush_interval;
            if Instant::now() >= next_housekeeping {
                if let Err(e) = housekeeping(&mut self.conn, &self.settings, crate::unix_ms()) {
                    tracing::error!(error = %e, "storage housekeeping failed");
                }
                next_housekeeping = Instant::now() + HOUSEKEEPING_EVERY;
            }
            if closed {
                self.last_attempts();
                // Hooks recorded after the close never see a commit: run them with the reason.
                while let Ok(r) = rx.try_recv() {
                    match r {
                        Record::AfterCommit(then) => (then.0)(Err("storage closed")),
                        Record::Flush(tx) => {
                            let _ = tx.send(Err("storage closed".into()));
                        }
                        _ => {}
                    }
                }
                tracing::info!("storage flushed and closed");
                return;
            }
        }
    }

    /// At shutdown, records still kept from failed commits get a last, bounded chance
    /// ([`LAST_ATTEMPTS`] commits [`LAST_ATTEMPT_EVERY`] apart: a disk that frees up during the
    /// shutdown still gets them); what is still not written is then logged one line per record
    /// and listed in [`StorageCounters::lost_at_shutdown`], so the operator knows exactly what
    /// the next start will not know.
    fn last_attempts(&mut self) {
        for _ in 0..LAST_ATTEMPTS {
            if self.kept.is_empty() {
                return;
            }
            std::thread::sleep(LAST_ATTEMPT_EVERY);
            self.commit(&mut Vec::new());
        }
        if self.kept.is_empty() {
            return;
        }
        let lost: Vec<String> = self.kept.iter().map(Kept::describe).collect();
        let why = self.counters.failing().map(|f| f.1).unwrap_or_default();
        tracing::error!(
            lost = lost.len(),
            error = %why,
            "storage closed with {} records it could not write after {} last attempts; lost:",
            lost.len(),
            LAST_ATTEMPTS
        );
        for l in &lost {
            tracing::error!("lost at shutdown: {l}");
        }
        *self
            .counters
            .lost_at_shutdown
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = lost;
    }

    /// Commits the records kept from failed commits and `batch` in one transaction. On failure
    /// the samples are dropped (and counted), everything else is kept for the next attempt (at
    /// most [`KEPT_MAX`]), and the notifications owed are held in memory for the delivery worker.
    fn commit(&mut self, batch: &mut Vec<Record>) {
        let started = Instant::now();
        // Flush answers and after-commit hooks, in the order they were recorded.
        let mut acks: Vec<Record> = Vec::new();
        let mut rows: Vec<[i64; 4]> = Vec::with_capacity(batch.len());
        for op in batch.drain(..) {
            match op {
                ack @ (Record::Flush(_) | Record::AfterCommit(_)) => acks.push(ack),
                Record::Samples(many) => rows.extend(many.into_iter().map(|r| {
                    [
                        i64::from(r.seat),
                        r.t_ms as i64,
                        i64::from(r.temp_centi),
                        i64::from(r.flags),
                    ]
                })),
                Record::Close | Record::Pragma { .. } => {}
                op => self.kept.push(op.into()),
            }
        }
        let samples = rows.len() as u64;
        let mut outbox_rows = 0usize;
        let result = (|| -> Result<(), StorageError> {
            let tx = self.conn.transaction()?;
            for k in &self.kept {
                outbox_rows += apply(&tx, k, &self.settings)?;
            }
            insert_samples(&tx, &mut rows)?;
            tx.commit()?;
            Ok(())
        })();
        let outcome = result.as_ref().map(|_| ()).map_err(|e| e.to_string());
        match result {
            Ok(()) => {
                let written = self.kept.len();
                for k in self.kept.drain(..) {
                    if let Kept::Alert { held, .. } = k {
                        for h in held {
                            self.held.written(&h);
                        }
                    }
                }
                self.counters.kept.store(0, Relaxed);
                self.counters.commits.fetch_add(1, Relaxed);
                self.counters.samples.fetch_add(samples, Relaxed);
                self.counters
                    .commit_micros
                    .fetch_add(started.elapsed().as_micros() as u64, Relaxed);
                self.health.commit_succeeded(&self.counters, written);
                if outbox_rows > 0 {
                    self.doorbell.ring();
                }
            }
            Err(e) => {
                self.counters.dropped.fetch_add(samples, Relaxed);
                self.hold_notifications();
                if self.kept.len() > KEPT_MAX {
                    let excess = self.kept.len() - KEPT_MAX;
                    self.kept.drain(..excess);
                    self.counters.kept_dropped.fetch_add(excess as u64, Relaxed);
                }
                self.counters.kept.store(self.kept.len() as u64, Relaxed);
                self.health.commit_failed(&self.counters, &e, self.kept.len());
            }
        }
        for ack in acks {
            match ack {
                Record::Flush(tx) => {
                    let _ = tx.send(outcome.clone());
                }
                Record::AfterCommit(then) => (then.0)(outcome.as_ref().map(|_| ()).map_err(String::as_str)),
                _ => {}
            }
        }
    }

    /// Hands the notifications of kept alert changes not yet held to the in-memory queue, one
    /// per sink, and wakes the delivery worker.
    fn hold_notifications(&mut self) {
        let mut rang = false;
        for k in &mut self.kept {
            if let Kept::Alert { notify, held, .. } = k {
                if let Some(n) = notify.take() {
                    for sink in &self.settings.sinks {
                        held.push(self.held.hold(sink, (*n).clone()));
                    }
                    rang = true;
                }
            }
        }
        if rang {
            self.doorbell.ring();
        }
    }
}

/// Samples per INSERT statement: one statement of 128 rows costs far less than 128 statements
/// (the VDBE program and the binding run once), and 512 parameters stay far under SQLite's
/// 32,766 limit (SQLITE_MAX_VARIABLE_NUMBER).
const ROWS_PER_INSERT: usize = 128;

/// Inserts samples in key order (each seat's rows land in one B-tree run instead of 577
/// scattered inserts per batch), many rows per statement. Two frames of one seat in the same
/// millisecond keep the later one.
fn insert_samples(tx: &Transaction<'_>, rows: &mut [[i64; 4]]) -> Result<(), StorageError> {
    rows.sort_by_key(|r| (r[0], r[1]));
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let sql = format!(
            "INSERT OR REPLACE INTO samples (seat, t_ms, temp_centi, flags) VALUES {}",
            vec!["(?, ?, ?, ?)"; chunk.len()].join(", ")
        );
        let mut stmt = tx.prepare_cached(&sql)?;
        stmt.execute(rusqlite::params_from_iter(chunk.iter().flatten()))?;
    }
    Ok(())
}

/// Writes one kept record; returns how many outbox rows it added.
fn apply(tx: &Transaction<'_>, kept: &Kept, settings: &StorageSettings) -> Result<usize, StorageError> {
    let op = match kept {
        Kept::Op(op) => op,
        Kept::Alert { view, notify, held } => {
            return apply_alert(tx, view, notify.as_deref(), held, settings)
        }
    };
    match op {
        Record::Seats(places) => {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO seats (id, label, sector, row, position, line) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT (id) DO UPDATE SET label = ?2, sector = ?3, row = ?4, position = ?5, line = ?6",
            )?;
            for p in places {
                stmt.execute(params![p.id, p.label, p.sector, p.row, p.position, p.line])?;
            }
        }
        Record::SeatSeen {
            seat,
            boot_id,
            firmware,
            board,
            at_ms,
        } => {
            let at_ms = *at_ms;
            tx.prepare_cached(
                "UPDATE seats SET boot_id = COALESCE(?2, boot_id), firmware = COALESCE(?3, firmware),
                 board = COALESCE(?4, board), last_seen_ms = ?5 WHERE id = ?1",
            )?
            .execute(params![seat, boot_id, firmware, board, at_ms as i64])?;
        }
        Record::HelloSeen {
            seat,
            boot_id,
            counter,
            at_ms,
        } => {
            tx.prepare_cached(
                "INSERT INTO hellos (seat, boot_id, counter, at_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (seat, boot_id) DO UPDATE SET counter = MAX(counter, ?3), at_ms = ?4",
            )?
            .execute(params![seat, boot_id, counter, *at_ms as i64])?;
            // Keep the seat's last boots only (as many as ingest remembers).
            tx.prepare_cached(
                "DELETE FROM hellos WHERE seat = ?1 AND boot_id NOT IN
                 (SELECT boot_id FROM hellos WHERE seat = ?1 ORDER BY at_ms DESC LIMIT ?2)",
            )?
            .execute(params![seat, crate::ingest::REMEMBERED_BOOTS as i64])?;
        }
        Record::Event(e) => {
            tx.prepare_cached(
                "INSERT INTO events (at_ms, seat, line, kind, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![e.at_ms as i64, e.seat, e.line, e.kind.name(), e.detail])?;
        }
        Record::Silence(s) => {
            tx.prepare_cached(
                "INSERT INTO silences (id, view, until_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET view = ?2, until_ms = ?3",
            )?
            .execute(params![s.id, serde_json::to_string(&s.view)?, s.until_ms as i64])?;
        }
        Record::Alert { .. }
        | Record::Samples(_)
        | Record::Flush(_)
        | Record::AfterCommit(_)
        | Record::Pragma { .. }
        | Record::Close => {}
    }
    Ok(0)
}

/// Writes an alert change, its history row, and the outbox rows it owes: one per sink for a
/// fresh notification, or one per held notification (marked delivered if the worker delivered
/// it from memory meanwhile).
fn apply_alert(
    tx: &Transaction<'_>,
    view: &AlertView,
    notify: Option<&Notification>,
    held: &[Arc<HeldNotification>],
    settings: &StorageSettings,
) -> Result<usize, StorageError> {
    let json = serde_json::to_string(view)?;
    tx.prepare_cached(
        "INSERT INTO alerts (id, view, state, updated_at_ms) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (id) DO UPDATE SET view = ?2, state = ?3, updated_at_ms = ?4",
    )?
    .execute(params![
        view.id,
        json,
        view.state.name(),
        view.updated_at_ms as i64
    ])?;
    tx.prepare_cached("INSERT INTO alert_history (alert_id, at_ms, state, view) VALUES (?1, ?2, ?3, ?4)")?
        .execute(params![
            view.id,
            view.updated_at_ms as i64,
            view.state.name(),
            json
        ])?;
    let mut stmt = tx.prepare_cached(
        "INSERT INTO outbox (sink, notification, next_attempt_ms, delivered_ms) VALUES (?1, ?2, ?3, ?4)",
    )?;
    if let Some(n) = notify {
        let body = serde_json::to_string(n)?;
        for sink in &settings.sinks {
            stmt.execute(params![sink, body, view.updated_at_ms as i64, None::<i64>])?;
        }
        return Ok(settings.sinks.len());
    }
    let now = crate::unix_ms() as i64;
    for h in held {
        let body = serde_json::to_string(&h.notification)?;
        let delivered = h.delivered().then_some(now);
        stmt.execute(params![h.sink, body, view.updated_at_ms as i64, delivered])?;
    }
    Ok(held.iter().filter(|h| !h.delivered()).count())
}

/// Rolls raw samples older than the raw retention into 1-minute min/max/mean rows, deletes them,
/// and deletes rollups, resolved alerts' history rows and delivered outbox rows older than the
/// rollup retention. Whole minutes only, so a minute is never split between raw and rollup.
pub(super) fn housekeeping(
    conn: &mut Connection,
    settings: &StorageSettings,
    now_ms: u64,
) -> Result<(), StorageError> {
    let raw_cut =
        (now_ms as i64 - settings.raw_retention.as_millis() as i64).div_euclid(MINUTE_MS) * MINUTE_MS;
    let rollup_cut = now_ms as i64 - settings.rollup_retention.as_millis() as i64;
    let tx = conn.transaction()?;
    tx.execute(
        "INSERT INTO rollups (seat, minute_ms, min_centi, max_centi, sum_centi, n)
         SELECT seat, (t_ms / 60000) * 60000, MIN(temp_centi), MAX(temp_centi), SUM(temp_centi), COUNT(*)
         FROM samples WHERE t_ms < ?1 GROUP BY seat, t_ms / 60000
         ON CONFLICT (seat, minute_ms) DO UPDATE SET
           min_centi = MIN(min_centi, excluded.min_centi), max_centi = MAX(max_centi, excluded.max_centi),
           sum_centi = sum_centi + excluded.sum_centi, n = n + excluded.n",
        params![raw_cut],
    )?;
    tx.execute("DELETE FROM samples WHERE t_ms < ?1", params![raw_cut])?;
    tx.execute("DELETE FROM rollups WHERE minute_ms < ?1", params![rollup_cut])?;
    tx.execute("DELETE FROM events WHERE at_ms < ?1", params![rollup_cut])?;
    tx.execute(
        "DELETE FROM outbox WHERE delivered_ms IS NOT NULL AND delivered_ms < ?1",
        params![rollup_cut],
    )?;
    tx.commit()?;
    Ok(())
}
