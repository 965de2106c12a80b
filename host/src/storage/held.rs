//! Notifications held in memory while SQLite refuses writes. Notifications normally reach the
//! sinks through the outbox table; when a commit fails (disk full, I/O error) the writer hands the
//! notifications of the failed batch to this bounded queue, the delivery worker delivers them from
//! here, and once writes succeed again the writer stores them in the outbox — already delivered,
//! or still owed — and releases them. An overheat during a storage outage still pages someone.

use std::collections::VecDeque;
use std::sync::atomic::AtomicU8;
use std::sync::atomic::Ordering::{AcqRel, Acquire, Relaxed};
use std::sync::{Arc, Mutex};

use super::StorageCounters;
use crate::sink::Notification;

/// Notifications held at most; beyond it the oldest is dropped from memory and counted (it is
/// still written to the outbox, undelivered, once writes succeed again, if its alert record was
/// kept). A storage outage long enough to fill this has paged about it long before.
pub const HELD_MAX: usize = 1_000;

/// Waiting in memory for the delivery worker.
const QUEUED: u8 = 0;
/// The worker delivered it (the outbox row is written as delivered).
const DELIVERED: u8 = 1;
/// The writer stored it in the outbox: the outbox owns it now.
const WRITTEN: u8 = 2;

/// One notification owed to one sink, held in memory.
#[derive(Debug)]
pub struct HeldNotification {
    /// Sink name.
    pub sink: String,
    /// What to deliver.
    pub notification: Notification,
    state: AtomicU8,
    /// Delivery attempts and when the next may run (the worker's backoff).
    retry: Mutex<(u32, u64)>,
}

impl HeldNotification {
    /// Whether the worker delivered it.
    pub fn delivered(&self) -> bool {
        self.state.load(Acquire) == DELIVERED
    }

    /// Attempts so far and the unix ms of the next one.
    pub fn retry_state(&self) -> (u32, u64) {
        *self.retry.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A failed attempt: try again at `next_ms`.
    pub fn failed(&self, attempts: u32, next_ms: u64) {
        *self.retry.lock().unwrap_or_else(|p| p.into_inner()) = (attempts, next_ms);
    }
}

/// The queue, shared by the storage writer (which fills and releases it) and the delivery worker
/// (which delivers from it). Cloning shares it.
#[derive(Clone, Debug)]
pub struct HeldOutbox {
    queue: Arc<Mutex<VecDeque<Arc<HeldNotification>>>>,
    counters: Arc<StorageCounters>,
}

impl HeldOutbox {
    /// An empty queue counting into `counters` (`held`, `held_dropped`).
    pub(super) fn new(counters: Arc<StorageCounters>) -> Self {
        Self {
            queue: Arc::default(),
            counters,
        }
    }

    /// Holds `notification` for `sink`; drops (and counts) the oldest beyond [`HELD_MAX`].
    pub(super) fn hold(&self, sink: &str, notification: Notification) -> Arc<HeldNotification> {
        let item = Arc::new(HeldNotification {
            sink: sink.to_owned(),
            notification,
            state: AtomicU8::new(QUEUED),
            retry: Mutex::new((0, 0)),
        });
        let mut q = self.lock();
        q.push_back(item.clone());
        while q.len() > HELD_MAX {
            q.pop_front();
            self.counters.held_dropped.fetch_add(1, Relaxed);
        }
        self.counters.held.store(q.len() as u64, Relaxed);
        item
    }

    /// The writer stored `item` in the outbox: forget it here.
    pub(super) fn written(&self, item: &HeldNotification) {
        item.state.store(WRITTEN, Relaxed);
        self.sweep();
    }

    /// The worker delivered `item` (a no-op if the writer took it over meanwhile: at least once).
    pub fn mark_delivered(&self, item: &HeldNotification) {
        let _ = item.state.compare_exchange(QUEUED, DELIVERED, AcqRel, Acquire);
        self.sweep();
    }

    /// Held notifications due at `now_ms`, oldest first.
    pub fn due(&self, now_ms: u64) -> Vec<Arc<HeldNotification>> {
        self.lock()
            .iter()
            .filter(|i| i.state.load(Acquire) == QUEUED && i.retry_state().1 <= now_ms)
            .cloned()
            .collect()
    }

    /// How many are held.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn sweep(&self) {
        let mut q = self.lock();
        q.retain(|i| i.state.load(Acquire) == QUEUED);
        self.counters.held.store(q.len() as u64, Relaxed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Arc<HeldNotification>>> {
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering::Relaxed;

    use super::*;
    use crate::alert::{AlertState, Kind};

    fn n(id: i64) -> Notification {
        Notification {
            id,
            kind: Kind::Overheat,
            state: AlertState::Firing,
            seat: Some(1),
            label: None,
            sector: None,
            line: None,
            summary: String::new(),
            started_at_ms: 0,
            resolved_at_ms: None,
            predicted_critical_at_ms: None,
        }
    }

    /// The queue keeps the newest [`HELD_MAX`] and counts what it dropped; delivered and written
    /// notifications leave it.
    #[test]
    fn the_queue_is_bounded_and_counts_what_it_drops() {
        let counters = Arc::new(StorageCounters::default());
        let held = HeldOutbox::new(counters.clone());
        let items: Vec<_> = (0..HELD_MAX as i64 + 5)
            .map(|i| held.hold("hook", n(i)))
            .collect();
        assert_eq!(held.len(), HELD_MAX);
        assert_eq!(counters.held_dropped.load(Relaxed), 5);
        let due = held.due(0);
        assert_eq!(due[0].notification.id, 5, "the oldest were dropped");
        held.mark_delivered(&due[0]);
        assert!(due[0].delivered());
        held.written(&items[6]);
        assert_eq!(held.len(), HELD_MAX - 2);
        assert_eq!(counters.held.load(Relaxed), (HELD_MAX - 2) as u64);
        // A failed attempt waits for its backoff.
        due[2].failed(1, 10_000);
        assert!(!held.due(9_999).iter().any(|i| Arc::ptr_eq(i, &due[2])));
        assert!(held.due(10_000).iter().any(|i| Arc::ptr_eq(i, &due[2])));
    }
}
