//! A database that cannot be opened never stops monitoring. When opening, migrating or restoring
//! from the file fails (random bytes, a truncated or otherwise corrupt file, a schema written by a
//! newer Hemiwatch), the file is moved aside with its `-wal` and `-shm` as
//! `hemiwatch.sqlite.corrupt-<unix time>`, a fresh file is started, and what can still be read is
//! copied into it; the daemon then raises a `storage_recovered` alert saying what was lost.
//!
//! What "what can be read" means: the moved file is attached read-only and, table by table, its
//! rows are copied one at a time until the first one that does not read (SQLite's `.recover` is a
//! feature of the `sqlite3` shell, not of the library). Only the tables that carry what an
//! operator would miss are copied — seats, alerts with their history and acknowledgements,
//! silences, events, notifications still owed; raw samples and rollups (bulky, and only chart
//! history) stay in the moved file, from which the shell's `.recover` can still get them.
//!
//! A file from a newer schema (its `user_version` above this build's) is moved aside untouched
//! and nothing is copied from it: its tables may mean something this build does not know, and a
//! silent downgrade would rewrite a newer daemon's history in an older shape. Refusing to start
//! instead would leave the hemicycle unwatched because of a history file; moving it aside keeps
//! it whole for the newer build (rename it back) while this one monitors.
//!
//! Not moved aside: a file locked by another process (another daemon is running on it) and a
//! folder that cannot be created; those still fail the start, with their cause.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, ErrorCode};

use super::StorageError;

/// Tables copied from a damaged file, in an order that keeps ids meaningful.
const SALVAGED: [&str; 6] = ["seats", "alerts", "alert_history", "silences", "events", "outbox"];

/// What happened to a file that could not be opened, for the `storage_recovered` alert.
#[derive(Clone, Debug, PartialEq)]
pub struct Recovery {
    /// Why it could not be opened.
    pub cause: String,
    /// Where it was moved.
    pub moved_to: PathBuf,
    /// Rows copied per table.
    pub copied: Vec<(&'static str, u64)>,
    /// Tables that stopped at an unreadable row (or could not be read at all), with why.
    pub damaged: Vec<(&'static str, String)>,
}

impl Recovery {
    /// One sentence for the alert: what was wrong, where the file went, what was kept and lost.
    pub fn describe(&self) -> String {
        let copied = if self.copied.iter().all(|(_, n)| *n == 0) {
            "nothing could be copied".to_owned()
        } else {
            let rows: Vec<String> = self
                .copied
                .iter()
                .filter(|(_, n)| *n > 0)
                .map(|(t, n)| format!("{n} {t}"))
                .collect();
            format!("copied {}", rows.join(", "))
        };
        let damaged = if self.damaged.is_empty() {
            String::new()
        } else {
            let t: Vec<String> = self.damaged.iter().map(|(t, e)| format!("{t} ({e})")).collect();
            format!("; the rest is unreadable: {}", t.join(", "))
        };
        format!(
            "the database could not be opened ({}); it was moved to {} and monitoring started on a fresh file: {copied}{damaged}; samples and rollups before this start are only in the moved file",
            self.cause,
            self.moved_to.display()
        )
    }
}

/// Whether an open failure is the file's fault (move it aside) rather than the environment's.
pub(super) fn is_file_fault(e: &StorageError) -> bool {
    match e {
        StorageError::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => !matches!(
            f.code,
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked | ErrorCode::OutOfMemory
        ),
        StorageError::Sqlite(_) | StorageError::TooNew { .. } | StorageError::Json(_) => true,
        StorageError::Folder { .. } | StorageError::WriterGone | StorageError::NotCommitted(_) => false,
    }
}

/// Moves `path` (with its `-wal` and `-shm`) aside as `<path>.corrupt-<unix s>`.
pub(super) fn move_aside(path: &Path) -> Result<PathBuf, StorageError> {
    let secs = crate::unix_ms() / 1_000;
    let mut to = PathBuf::from(format!("{}.corrupt-{secs}", path.display()));
    let mut n = 1;
    while to.exists() {
        to = PathBuf::from(format!("{}.corrupt-{secs}.{n}", path.display()));
        n += 1;
    }
    let io = |source| StorageError::Folder {
        path: path.to_owned(),
        source,
    };
    std::fs::rename(path, &to).map_err(io)?;
    for suffix in ["-wal", "-shm"] {
        let from = PathBuf::from(format!("{}{suffix}", path.display()));
        if from.exists() {
            std::fs::rename(&from, format!("{}{suffix}", to.display())).map_err(io)?;
        }
    }
    Ok(to)
}

/// Copies what reads cleanly from the moved file `old` into the fresh database `conn` (nothing
/// from a newer schema).
pub(super) fn salvage(conn: &mut Connection, old: &Path, cause: &StorageError) -> Recovery {
    let mut r = Recovery {
        cause: cause.to_string(),
        moved_to: old.to_owned(),
        copied: Vec::new(),
        damaged: Vec::new(),
    };
    if matches!(cause, StorageError::TooNew { .. }) {
        return r;
    }
    let uri = format!("file:{}?mode=ro", old.display());
    // `writable_schema` makes SQLite read a file shorter than its header says (a truncated one)
    // instead of refusing it whole; nothing here writes a schema.
    let attach = conn
        .pragma_update(None, "writable_schema", true)
        .and_then(|()| conn.execute("ATTACH DATABASE ?1 AS old", [uri]));
    if let Err(e) = attach {
        r.damaged.push(("database", e.to_string()));
        let _ = conn.pragma_update(None, "writable_schema", false);
        return r;
    }
    for table in SALVAGED {
        let (n, err) = copy_table(conn, table);
        r.copied.push((table, n));
        if let Some(e) = err {
            r.damaged.push((table, e));
        }
    }
    if let Err(e) = conn.execute("DETACH DATABASE old", []) {
        tracing::warn!(error = %e, "cannot detach the damaged file");
    }
    if let Err(e) = conn.pragma_update(None, "writable_schema", false) {
        tracing::warn!(error = %e, "cannot reset writable_schema");
    }
    r
}

/// Past an unreadable row, how many times a table's copy seeks further before giving up.
const MAX_SKIPS: u32 = 64;
/// Rows read from the damaged file before they are written, at most.
const CHUNK: i64 = 5_000;

/// Copies `table`'s rows in rowid order, a chunk at a time: a chunk is read from the damaged file
/// up to its first unreadable row, then written in its own transaction (a corruption error may
/// roll back the transaction it happens in, so reading and writing never share one). At a row
/// that does not read (a page missing or damaged), the copy seeks past it — one rowid further,
/// then twice as far each time — so the rows on the pages that remain are copied too. Returns
/// the rows copied and, if some could not be read, why.
fn copy_table(conn: &mut Connection, table: &str) -> (u64, Option<String>) {
    let mut n = 0u64;
    let mut from = i64::MIN;
    let mut first_error: Option<String> = None;
    let mut skips = 0u32;
    let mut step = 1i64;
    loop {
        let mut chunk: Vec<Vec<rusqlite::types::Value>> = Vec::new();
        let mut cols: Vec<String> = Vec::new();
        let read = (|| -> rusqlite::Result<()> {
            let mut stmt = conn.prepare(&format!(
                "SELECT rowid, * FROM old.{table} WHERE rowid >= ?1 ORDER BY rowid LIMIT {CHUNK}"
            ))?;
            cols = stmt
                .column_names()
                .iter()
                .skip(1)
                .map(|c| c.to_string())
                .collect();
            let mut rows = stmt.query([from])?;
            while let Some(row) = rows.next()? {
                chunk.push((0..=cols.len()).map(|i| row.get(i)).collect::<Result<_, _>>()?);
            }
            Ok(())
        })();
        let last = chunk.last().and_then(|r| match r.first() {
            Some(rusqlite::types::Value::Integer(id)) => Some(*id),
            _ => None,
        });
        let full = chunk.len() as i64 == CHUNK;
        if !chunk.is_empty() {
            match write_chunk(conn, table, &cols, &chunk) {
                Ok(()) => n += chunk.len() as u64,
                Err(e) => {
                    first_error.get_or_insert_with(|| e.to_string());
                    break;
                }
            }
        }
        match read {
            Ok(()) if full => from = last.map_or(i64::MAX, |r| r.saturating_add(1)),
            Ok(()) => break,
            Err(e) => {
                first_error.get_or_insert_with(|| e.to_string());
                skips += 1;
                if skips > MAX_SKIPS {
                    break;
                }
                // Restart past the last row read, or further past where the last attempt began.
                from = match last {
                    Some(r) => {
                        step = 1;
                        r.saturating_add(1)
                    }
                    None => {
                        step = step.saturating_mul(2);
                        from.max(0).saturating_add(step)
                    }
                };
            }
        }
    }
    (n, first_error)
}

/// Writes rows read from the damaged file (rowid first) into the fresh one, in one transaction.
fn write_chunk(
    conn: &mut Connection,
    table: &str,
    cols: &[String],
    chunk: &[Vec<rusqlite::types::Value>],
) -> rusqlite::Result<()> {
    let tx = conn.transaction()?;
    {
        let mut write = tx.prepare(&format!(
            "INSERT OR IGNORE INTO main.{table} (rowid, {}) VALUES ({})",
            cols.join(", "),
            vec!["?"; cols.len() + 1].join(", ")
        ))?;
        for row in chunk {
            write.execute(rusqlite::params_from_iter(row))?;
        }
    }
    tx.commit()
}
