//! [`HistorySource`] over the daemon's SQLite storage: read connections are opened on demand and
//! kept for reuse (one per concurrent request at most), since opening one costs a file open and
//! schema read while a query on a seat's 30 minutes costs well under a millisecond.

use std::sync::Mutex;

use hemiwatch_protocol::SeatId;

use super::HistorySource;
use crate::model::{EventView, HistoryPoint};
use crate::storage::{Reader, Storage, StorageError};

/// Idle read connections kept for reuse; more concurrent requests open (and drop) their own.
const POOL: usize = 4;

/// Storage-backed history for the API.
#[derive(Debug)]
pub struct StorageHistory {
    storage: Storage,
    idle: Mutex<Vec<Reader>>,
}

impl StorageHistory {
    /// Wraps a storage handle.
    pub fn new(storage: Storage) -> Self {
        Self {
            storage,
            idle: Mutex::new(Vec::new()),
        }
    }

    fn with_reader<T>(&self, f: impl FnOnce(&Reader) -> Result<T, StorageError>) -> Result<T, String> {
        let pooled = self.idle.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let reader = match pooled {
            Some(r) => r,
            None => self.storage.reader().map_err(|e| e.to_string())?,
        };
        let out = f(&reader).map_err(|e| e.to_string());
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if out.is_ok() && idle.len() < POOL {
            idle.push(reader);
        }
        out
    }
}

impl HistorySource for StorageHistory {
    fn samples(&self, seat: SeatId, from_ms: u64, to_ms: u64) -> Result<Vec<HistoryPoint>, String> {
        self.with_reader(|r| r.samples(seat, from_ms, to_ms))
    }

    fn events(&self, seat: SeatId, limit: usize) -> Result<Vec<EventView>, String> {
        self.with_reader(|r| r.events(seat, limit))
    }
}
