//! The outbox rows, seen from the delivery worker ([`crate::sink::outbox`]), and the doorbell
//! the storage writer rings when it committed new ones.

use std::path::Path;
use std::sync::Arc;

use rusqlite::{params, Connection};

use super::StorageError;
use crate::sink::outbox::{OutboxItem, OutboxStore, Tidied};

/// The storage → delivery hand-off: the writer rings it after each commit that wrote outbox
/// rows; each sink's delivery task listens ([`OutboxDoorbell::listen`]) and polls anyway, so a
/// missed ring only delays. A ring reaches every listener (one per sink), including one busy
/// delivering when it rang. Cloning shares the bell.
#[derive(Clone, Debug)]
pub struct OutboxDoorbell(Arc<tokio::sync::watch::Sender<u64>>);

impl Default for OutboxDoorbell {
    fn default() -> Self {
        Self(Arc::new(tokio::sync::watch::channel(0).0))
    }
}

impl OutboxDoorbell {
    /// A bell nobody rang yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// New rows are committed: wakes every listener (or its next wait, if it is busy).
    pub fn ring(&self) {
        self.0.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A listener for one delivery task.
    pub fn listen(&self) -> OutboxBell {
        OutboxBell(self.0.subscribe())
    }
}

/// One delivery task's ear on the [`OutboxDoorbell`].
#[derive(Debug)]
pub struct OutboxBell(tokio::sync::watch::Receiver<u64>);

impl OutboxBell {
    /// Waits for the next ring (returns at once if it rang since the last wait).
    pub async fn rung(&mut self) {
        if self.0.changed().await.is_err() {
            // The bell is gone (shutdown): never rings again.
            std::future::pending::<()>().await;
        }
    }
}

/// The worker's own connection to the outbox table.
#[derive(Debug)]
pub struct SqliteOutbox {
    conn: Connection,
}

impl SqliteOutbox {
    /// Opens a connection on the daemon's database (already created by [`super::Storage::open`]).
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(Self { conn })
    }

    /// Outbox rows chosen by `sql` (id, sink, notification, attempts) with `params`.
    fn select(&mut self, sql: &str, params: impl rusqlite::Params) -> Result<Vec<OutboxItem>, String> {
        let run = || -> Result<Vec<OutboxItem>, StorageError> {
            let mut stmt = self.conn.prepare_cached(sql)?;
            let rows = stmt.query_map(params, |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, u32>(3)?,
                ))
            })?;
            let mut out = Vec::new();
            for row in rows {
                let (id, sink, body, attempts) = row?;
                out.push(OutboxItem {
                    id,
                    sink,
                    notification: serde_json::from_str(&body)?,
                    attempts,
                });
            }
            Ok(out)
        };
        run().map_err(|e| e.to_string())
    }

    /// Rows not yet delivered (tests, `status`).
    pub fn pending(&self) -> Result<u64, StorageError> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FROM outbox WHERE delivered_ms IS NULL",
            [],
            |r| r.get::<_, i64>(0),
        )? as u64)
    }
}

impl OutboxStore for SqliteOutbox {
    fn owed(&mut self, sink: &str, limit: usize) -> Result<Vec<OutboxItem>, String> {
        self.select(
            "SELECT id, sink, notification, attempts FROM outbox
             WHERE delivered_ms IS NULL AND sink = ?1 ORDER BY id LIMIT ?2",
            params![sink, limit as i64],
        )
    }

    fn owed_by_sink(&mut self) -> Result<Vec<(String, u64)>, String> {
        let run = || -> Result<Vec<(String, u64)>, rusqlite::Error> {
            let mut stmt = self.conn.prepare_cached(
                "SELECT sink, COUNT(*) FROM outbox WHERE delivered_ms IS NULL GROUP BY sink ORDER BY sink",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)? as u64)))?;
            rows.collect()
        };
        run().map_err(|e| e.to_string())
    }

    fn tidy(&mut self, max_owed: usize) -> Result<Tidied, String> {
        let mut run = || -> Result<Tidied, rusqlite::Error> {
            let tx = self.conn.transaction()?;
            let purged = tx.execute("DELETE FROM outbox WHERE delivered_ms IS NOT NULL", [])? as u64;
            let over: Vec<(String, i64)> = {
                let mut stmt = tx.prepare(
                    "SELECT sink, COUNT(*) FROM outbox WHERE delivered_ms IS NULL GROUP BY sink HAVING COUNT(*) > ?1",
                )?;
                let rows = stmt.query_map(params![max_owed as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
                rows.collect::<Result<_, _>>()?
            };
            let mut dropped = Vec::new();
            for (sink, _) in over {
                // The oldest go: the newest say what stands now.
                let n = tx.execute(
                    "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE delivered_ms IS NULL
                     AND sink = ?1 ORDER BY id DESC LIMIT -1 OFFSET ?2)",
                    params![sink, max_owed as i64],
                )? as u64;
                dropped.push((sink, n));
            }
            tx.commit()?;
            Ok(Tidied { purged, dropped })
        };
        run().map_err(|e| e.to_string())
    }

    fn due(&mut self, now_ms: u64, limit: usize) -> Result<Vec<OutboxItem>, String> {
        self.select(
            "SELECT id, sink, notification, attempts FROM outbox
             WHERE delivered_ms IS NULL AND next_attempt_ms <= ?1 ORDER BY id LIMIT ?2",
            params![now_ms as i64, limit as i64],
        )
    }

    fn delivered(&mut self, id: i64, now_ms: u64) -> Result<(), String> {
        self.conn
            .execute(
                "UPDATE outbox SET delivered_ms = ?2 WHERE id = ?1",
                params![id, now_ms as i64],
            )
            .map(drop)
            .map_err(|e| e.to_string())
    }

    fn retry(&mut self, id: i64, attempts: u32, next_attempt_ms: u64, error: &str) -> Result<(), String> {
        self.conn
            .execute(
                "UPDATE outbox SET attempts = ?2, next_attempt_ms = ?3, last_error = ?4 WHERE id = ?1",
                params![id, attempts, next_attempt_ms as i64, error],
            )
            .map(drop)
            .map_err(|e| e.to_string())
    }
}
