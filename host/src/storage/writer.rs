//! The writer thread: batches operations into transactions and keeps the history within its
//! retention. The only code that writes history, alerts and events.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rusqlite::{params, Connection, Transaction};

use super::{OutboxDoorbell, Record, StorageCounters, StorageError, StorageSettings};

/// How often raw samples past retention are rolled up and old rollups deleted.
const HOUSEKEEPING_EVERY: Duration = Duration::from_secs(60);
/// A batch this large is committed without waiting for the flush interval (bounds memory and
/// transaction size under a burst).
const MAX_BATCH: usize = 20_000;
/// One minute, the rollup bucket.
const MINUTE_MS: i64 = 60_000;

/// Starts the writer thread on `conn`.
pub(super) fn spawn(
    conn: Connection,
    rx: Receiver<Record>,
    settings: StorageSettings,
    counters: Arc<StorageCounters>,
    doorbell: OutboxDoorbell,
) -> Result<std::thread::JoinHandle<()>, StorageError> {
    std::thread::Builder::new()
        .name("hemiwatch-storage".into())
        .spawn(move || run(conn, rx, settings, counters, doorbell))
        .map_err(|source| StorageError::Folder {
            path: "writer thread".into(),
            source,
        })
}

fn run(
    mut conn: Connection,
    rx: Receiver<Record>,
    settings: StorageSettings,
    counters: Arc<StorageCounters>,
    doorbell: OutboxDoorbell,
) {
    let mut batch: Vec<Record> = Vec::with_capacity(4096);
    // Samples buffered (an `Record::Samples` carries many).
    let mut rows = 0usize;
    let mut deadline = Instant::now() + settings.flush_interval;
    let mut next_housekeeping = Instant::now() + HOUSEKEEPING_EVERY;
    loop {
        let timeout = deadline.saturating_duration_since(Instant::now());
        let (urgent, closed) = match rx.recv_timeout(timeout) {
            Ok(Record::Close) => (true, true),
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
        if !batch.is_empty() {
            commit(&mut conn, &mut batch, &settings, &counters, &doorbell);
        }
        rows = 0;
        deadline = Instant::now() + settings.flush_interval;
        if Instant::now() >= next_housekeeping {
            if let Err(e) = housekeeping(&mut conn, &settings, crate::unix_ms()) {
                tracing::error!(error = %e, "storage housekeeping failed");
            }
            next_housekeeping = Instant::now() + HOUSEKEEPING_EVERY;
        }
        if closed {
            tracing::info!("storage flushed and closed");
            return;
        }
    }
}

/// Commits a batch in one transaction; on failure the batch is logged, counted and dropped
/// (retrying a transaction SQLite refused would wedge the writer).
fn commit(
    conn: &mut Connection,
    batch: &mut Vec<Record>,
    settings: &StorageSettings,
    counters: &StorageCounters,
    doorbell: &OutboxDoorbell,
) {
    let started = Instant::now();
    let mut acks = Vec::new();
    let mut outbox_rows = 0usize;
    let mut samples = 0u64;
    let result = (|| -> Result<(), StorageError> {
        let tx = conn.transaction()?;
        let mut rows: Vec<[i64; 4]> = Vec::with_capacity(batch.len());
        for op in batch.drain(..) {
            match op {
                Record::Flush(ack) => acks.push(ack),
                Record::Samples(many) => rows.extend(many.into_iter().map(|r| {
                    [
                        i64::from(r.seat),
                        r.t_ms as i64,
                        i64::from(r.temp_centi),
                        i64::from(r.flags),
                    ]
                })),
                op => outbox_rows += apply(&tx, op, settings)?,
            }
        }
        samples = rows.len() as u64;
        insert_samples(&tx, &mut rows)?;
        tx.commit()?;
        Ok(())
    })();
    batch.clear();
    match result {
        Ok(()) => {
            counters.commits.fetch_add(1, Relaxed);
            counters.samples.fetch_add(samples, Relaxed);
            counters
                .commit_micros
                .fetch_add(started.elapsed().as_micros() as u64, Relaxed);
            if outbox_rows > 0 {
                doorbell.ring();
            }
        }
        Err(e) => {
            counters.errors.fetch_add(1, Relaxed);
            tracing::error!(error = %e, "storage commit failed; batch dropped");
        }
    }
    for ack in acks {
        let _ = ack.send(());
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

/// Writes one operation; returns how many outbox rows it added.
fn apply(tx: &Transaction<'_>, op: Record, settings: &StorageSettings) -> Result<usize, StorageError> {
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
            tx.prepare_cached(
                "UPDATE seats SET boot_id = COALESCE(?2, boot_id), firmware = COALESCE(?3, firmware),
                 board = COALESCE(?4, board), last_seen_ms = ?5 WHERE id = ?1",
            )?
            .execute(params![seat, boot_id, firmware, board, at_ms as i64])?;
        }
        Record::Event(e) => {
            tx.prepare_cached(
                "INSERT INTO events (at_ms, seat, line, kind, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![e.at_ms as i64, e.seat, e.line, e.kind.name(), e.detail])?;
        }
        Record::Alert { view, notify } => {
            let json = serde_json::to_string(&view)?;
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
            tx.prepare_cached(
                "INSERT INTO alert_history (alert_id, at_ms, state, view) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                view.id,
                view.updated_at_ms as i64,
                view.state.name(),
                json
            ])?;
            if let Some(n) = notify {
                let body = serde_json::to_string(&n)?;
                let mut stmt = tx.prepare_cached(
                    "INSERT INTO outbox (sink, notification, next_attempt_ms) VALUES (?1, ?2, ?3)",
                )?;
                for sink in &settings.sinks {
                    stmt.execute(params![sink, body, view.updated_at_ms as i64])?;
                }
                return Ok(settings.sinks.len());
            }
        }
        Record::Silence(s) => {
            tx.prepare_cached(
                "INSERT INTO silences (id, view, until_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET view = ?2, until_ms = ?3",
            )?
            .execute(params![s.id, serde_json::to_string(&s.view)?, s.until_ms as i64])?;
        }
        Record::Samples(_) | Record::Flush(_) | Record::Close => {}
    }
    Ok(0)
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
