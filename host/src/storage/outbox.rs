//! The outbox rows, seen from the delivery worker ([`crate::sink::outbox`]), and the doorbell
//! the storage writer rings when it committed new ones.

use std::path::Path;
use std::sync::Arc;

use rusqlite::{params, Connection};

use super::StorageError;
use crate::sink::outbox::{OutboxItem, OutboxStore};

/// The storage → delivery hand-off: the writer rings it after each commit that wrote outbox
/// rows, the delivery worker waits on it (and polls anyway, so a missed ring only delays).
/// Cloning shares the bell.
#[derive(Clone, Debug, Default)]
pub struct OutboxDoorbell(Arc<tokio::sync::Notify>);

impl OutboxDoorbell {
    /// A bell nobody rang yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// New rows are committed: wakes the worker (or its next wait, if it is busy delivering).
    pub fn ring(&self) {
        self.0.notify_one();
    }

    /// Waits for the next ring.
    pub async fn rung(&self) {
        self.0.notified().await;
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
    fn due(&mut self, now_ms: u64, limit: usize) -> Result<Vec<OutboxItem>, String> {
        let run = || -> Result<Vec<OutboxItem>, StorageError> {
            let mut stmt = self.conn.prepare_cached(
                "SELECT id, sink, notification, attempts FROM outbox
                 WHERE delivered_ms IS NULL AND next_attempt_ms <= ?1 ORDER BY id LIMIT ?2",
            )?;
            let rows = stmt.query_map(params![now_ms as i64, limit as i64], |r| {
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
