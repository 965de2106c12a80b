//! At-least-once delivery: every notification owed to a sink is a row in SQLite (the outbox),
//! written in the same transaction as the alert change that caused it. This worker delivers due
//! rows, marks them delivered, or schedules a retry with exponential backoff. A daemon killed
//! between a delivery and its `delivered` mark delivers again after restart (at-least-once), so
//! receivers should deduplicate on (`id`, `state`).
//!
//! While SQLite refuses writes, notifications are held in memory instead
//! ([`crate::storage::HeldOutbox`]) and this worker delivers them from there too; a delivery whose
//! `delivered` mark cannot be written is remembered here, so a full disk does not make it repeat.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{Notification, Sink};

/// First retry delay; doubled per attempt up to [`MAX_BACKOFF`].
pub const MIN_BACKOFF: Duration = Duration::from_secs(1);
/// Longest retry delay: a receiver back from an outage gets its backlog within 5 minutes.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How often the worker looks for due rows when nothing wakes it.
const POLL: Duration = Duration::from_millis(500);

/// One undelivered notification.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxItem {
    /// Row id.
    pub id: i64,
    /// Sink name ([`Sink::name`]).
    pub sink: String,
    /// What to deliver.
    pub notification: Notification,
    /// Attempts so far.
    pub attempts: u32,
}

/// Storage of the outbox (implemented by the SQLite storage).
pub trait OutboxStore: Send {
    /// Rows due at `now_ms`, oldest first, at most `limit`.
    fn due(&mut self, now_ms: u64, limit: usize) -> Result<Vec<OutboxItem>, String>;
    /// Marks a row delivered.
    fn delivered(&mut self, id: i64, now_ms: u64) -> Result<(), String>;
    /// Records a failed attempt and when to try again.
    fn retry(&mut self, id: i64, attempts: u32, next_attempt_ms: u64, error: &str) -> Result<(), String>;
}

/// Delay before attempt `attempts + 1`.
pub fn backoff(attempts: u32) -> Duration {
    MIN_BACKOFF
        .saturating_mul(1u32 << attempts.min(16))
        .min(MAX_BACKOFF)
}

/// Outcome counters, for metrics and tests.
#[derive(Debug, Default)]
pub struct OutboxCounters {
    /// Deliveries that succeeded.
    pub delivered: std::sync::atomic::AtomicU64,
    /// Attempts that failed (and were rescheduled).
    pub failed: std::sync::atomic::AtomicU64,
}

/// Runs the worker until `shutdown`. Storage rings `doorbell` when new rows are written.
pub async fn run_outbox(
    store: Arc<Mutex<dyn OutboxStore>>,
    sinks: Vec<Sink>,
    doorbell: crate::storage::OutboxDoorbell,
    held: crate::storage::HeldOutbox,
    counters: Arc<OutboxCounters>,
    shutdown: CancellationToken,
) {
    use std::sync::atomic::Ordering::Relaxed;
    // Rows delivered whose `delivered` mark could not be written yet (a full disk): not
    // delivered again, marked again each round.
    let mut unmarked: Vec<(i64, u64)> = Vec::new();
    loop {
        if !unmarked.is_empty() {
            let store = store.clone();
            let pending = std::mem::take(&mut unmarked);
            unmarked = tokio::task::spawn_blocking(move || {
                let mut s = store.lock().unwrap_or_else(|p| p.into_inner());
                pending
                    .into_iter()
                    .filter(|(id, at)| s.delivered(*id, *at).is_err())
                    .collect()
            })
            .await
            .unwrap_or_default();
        }
        for item in held.due(crate::unix_ms()) {
            let Some(sink) = sinks.iter().find(|s| s.name() == item.sink) else {
                continue;
            };
            let result = tokio::select! {
                _ = shutdown.cancelled() => return,
                r = sink.deliver(&item.notification) => r,
            };
            match result {
                Ok(()) => {
                    counters.delivered.fetch_add(1, Relaxed);
                    tracing::info!(sink = sink.name(), alert = item.notification.id, state = %item.notification.state, "alert delivered from memory (storage is failing)");
                    held.mark_delivered(&item);
                }
                Err(e) => {
                    counters.failed.fetch_add(1, Relaxed);
                    let (attempts, _) = item.retry_state();
                    let next = crate::unix_ms() + backoff(attempts).as_millis() as u64;
                    tracing::warn!(sink = sink.name(), alert = item.notification.id, attempts = attempts + 1, error = %e, "delivery from memory failed, will retry");
                    item.failed(attempts + 1, next);
                }
            }
        }
        let now = crate::unix_ms();
        let due = {
            let store = store.clone();
            tokio::task::spawn_blocking(move || store.lock().unwrap_or_else(|p| p.into_inner()).due(now, 64))
                .await
        };
        let due = match due {
            Ok(Ok(items)) => items,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "outbox read failed");
                Vec::new()
            }
            Err(_) => return,
        };
        for item in due {
            if unmarked.iter().any(|(id, _)| *id == item.id) {
                continue;
            }
            let Some(sink) = sinks.iter().find(|s| s.name() == item.sink) else {
                // The sink was removed from the config: nothing can deliver it; keep it parked.
                continue;
            };
            let result = tokio::select! {
                _ = shutdown.cancelled() => return,
                r = sink.deliver(&item.notification) => r,
            };
            let store = store.clone();
            let now = crate::unix_ms();
            let outcome = match result {
                Ok(()) => {
                    counters.delivered.fetch_add(1, Relaxed);
                    tracing::info!(sink = sink.name(), alert = item.notification.id, state = %item.notification.state, "alert delivered");
                    let id = item.id;
                    let marked = tokio::task::spawn_blocking(move || {
                        store.lock().unwrap_or_else(|p| p.into_inner()).delivered(id, now)
                    })
                    .await;
                    if matches!(marked, Ok(Err(_))) {
                        unmarked.push((id, now));
                    }
                    marked
                }
                Err(e) => {
                    counters.failed.fetch_add(1, Relaxed);
                    let attempts = item.attempts + 1;
                    let next = now + backoff(item.attempts).as_millis() as u64;
                    tracing::warn!(sink = sink.name(), alert = item.notification.id, attempts, error = %e, "delivery failed, will retry");
                    let msg = e.to_string();
                    tokio::task::spawn_blocking(move || {
                        store
                            .lock()
                            .unwrap_or_else(|p| p.into_inner())
                            .retry(item.id, attempts, next, &msg)
                    })
                    .await
                }
            };
            if let Ok(Err(e)) = outcome {
                tracing::error!(error = %e, "outbox update failed");
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = doorbell.rung() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(0), Duration::from_secs(1));
        assert_eq!(backoff(3), Duration::from_secs(8));
        assert_eq!(backoff(40), MAX_BACKOFF);
    }
}
