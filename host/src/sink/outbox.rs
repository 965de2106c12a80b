//! At-least-once delivery: every notification owed to a sink is a row in SQLite (the outbox),
//! written in the same transaction as the alert change that caused it. Each configured sink has
//! its own delivery task, which reads only the rows carrying its name ([`NamedSink`]), oldest
//! first, delivers them in order, marks them delivered, and after a failure waits a backoff
//! before trying the same row again. So a slow or dead receiver delays only itself, two sinks of
//! one kind each get their own rows, and rows left for a sink removed from the config wait
//! (counted, bounded) without blocking anyone. A daemon killed between a delivery and its
//! `delivered` mark delivers again after restart (at-least-once), so receivers should
//! deduplicate on (`id`, `state`).
//!
//! Every duration here (backoff, poll, tidy period) runs on the monotonic clock
//! (`tokio::time`), so a step of the wall clock neither stalls nor hurries a retry; the wall clock
//! only stamps what is stored. A sink failing [`FAILING_AFTER`] times in a row is reported by
//! [`OutboxCounters::failing_summary`], which the state task raises as `sink_failing`.
//!
//! A tidy pass ([`TIDY_EVERY`]) deletes delivered rows and keeps at most [`OWED_MAX`] undelivered
//! rows per sink name, dropping (and counting) the oldest beyond it.
//!
//! While SQLite refuses writes, notifications are held in memory instead
//! ([`crate::storage::HeldOutbox`]) and these tasks deliver them from there too; a delivery whose
//! `delivered` mark cannot be written is remembered, so a full disk does not make it repeat.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::{NamedSink, Notification};
use crate::storage::{HeldOutbox, OutboxDoorbell};

/// First retry delay; doubled per consecutive failure up to [`MAX_BACKOFF`].
pub const MIN_BACKOFF: Duration = Duration::from_secs(1);
/// Longest retry delay: a receiver back from an outage gets its backlog within 5 minutes.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How often a sink's task looks for rows when nothing wakes it.
const POLL: Duration = Duration::from_millis(500);
/// Rows read per query.
const BATCH: usize = 64;
/// Consecutive failed attempts after which a sink "keeps failing" (`sink_failing`): with the
/// backoff, at least 1 + 2 + 4 = 7 s of failures, more than a receiver's restart.
pub const FAILING_AFTER: u32 = 4;
/// How often delivered rows are purged and undelivered ones bounded.
pub const TIDY_EVERY: Duration = Duration::from_secs(60);
/// Undelivered rows kept per sink: a day of a busy hemicycle's alert changes. Beyond it the
/// oldest are dropped (counted, logged): a receiver gone that long gets the newest.
pub const OWED_MAX: usize = 10_000;

/// One undelivered notification.
#[derive(Clone, Debug, PartialEq)]
pub struct OutboxItem {
    /// Row id.
    pub id: i64,
    /// Sink name ([`NamedSink::name`]).
    pub sink: String,
    /// What to deliver.
    pub notification: Notification,
    /// Attempts so far.
    pub attempts: u32,
}

/// What a tidy pass removed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Tidied {
    /// Delivered rows deleted.
    pub purged: u64,
    /// Undelivered rows dropped beyond the bound, per sink name.
    pub dropped: Vec<(String, u64)>,
}

/// Storage of the outbox (implemented by the SQLite storage).
pub trait OutboxStore: Send {
    /// Rows due at wall `now_ms`, any sink, oldest first, at most `limit` (tools and tests; the
    /// worker reads per sink with [`OutboxStore::owed`]).
    fn due(&mut self, now_ms: u64, limit: usize) -> Result<Vec<OutboxItem>, String>;
    /// Undelivered rows of `sink`, oldest first, at most `limit`.
    fn owed(&mut self, sink: &str, limit: usize) -> Result<Vec<OutboxItem>, String>;
    /// Undelivered rows per sink name.
    fn owed_by_sink(&mut self) -> Result<Vec<(String, u64)>, String>;
    /// Deletes delivered rows; keeps the newest `max_owed` undelivered rows per sink.
    fn tidy(&mut self, max_owed: usize) -> Result<Tidied, String>;
    /// Marks a row delivered at wall `now_ms`.
    fn delivered(&mut self, id: i64, now_ms: u64) -> Result<(), String>;
    /// Records a failed attempt (`next_attempt_ms`: a wall stamp, for people reading the table).
    fn retry(&mut self, id: i64, attempts: u32, next_attempt_ms: u64, error: &str) -> Result<(), String>;
}

/// Delay after `failures` consecutive failures (1 → [`MIN_BACKOFF`]).
pub fn backoff(failures: u32) -> Duration {
    MIN_BACKOFF
        .saturating_mul(1u32 << failures.saturating_sub(1).min(16))
        .min(MAX_BACKOFF)
}

/// One sink's state, for metrics, the API and the `sink_failing` alert.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SinkHealth {
    /// Deliveries that succeeded.
    pub delivered: u64,
    /// Attempts that failed.
    pub failed: u64,
    /// Failed attempts since the last success.
    pub consecutive_failures: u32,
    /// Why the last attempt failed.
    pub last_error: String,
}

/// Outcome counters, for metrics and tests.
#[derive(Debug, Default)]
pub struct OutboxCounters {
    /// Deliveries that succeeded.
    pub delivered: AtomicU64,
    /// Attempts that failed (and were retried).
    pub failed: AtomicU64,
    /// Undelivered rows dropped beyond [`OWED_MAX`].
    pub dropped: AtomicU64,
    /// Delivered rows purged.
    pub purged: AtomicU64,
    /// Per sink name.
    sinks: Mutex<BTreeMap<String, SinkHealth>>,
}

impl OutboxCounters {
    /// Each configured sink's state, by name.
    pub fn sinks(&self) -> BTreeMap<String, SinkHealth> {
        self.lock().clone()
    }

    /// The `sink_failing` sentence while some sink failed [`FAILING_AFTER`] times in a row.
    pub fn failing_summary(&self) -> Option<String> {
        let sinks = self.lock();
        let failing: Vec<String> = sinks
            .iter()
            .filter(|(_, h)| h.consecutive_failures >= FAILING_AFTER)
            .map(|(name, h)| {
                format!(
                    "{name} ({} attempts in a row: {})",
                    h.consecutive_failures, h.last_error
                )
            })
            .collect();
        (!failing.is_empty()).then(|| {
            format!(
                "alert notifications cannot be delivered to {}; they are kept and retried",
                failing.join(", ")
            )
        })
    }

    fn record(&self, sink: &str, result: Result<(), &str>) {
        let mut sinks = self.lock();
        let h = sinks.entry(sink.to_owned()).or_default();
        match result {
            Ok(()) => {
                self.delivered.fetch_add(1, Relaxed);
                h.delivered += 1;
                h.consecutive_failures = 0;
            }
            Err(e) => {
                self.failed.fetch_add(1, Relaxed);
                h.failed += 1;
                h.consecutive_failures += 1;
                h.last_error = e.to_owned();
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, SinkHealth>> {
        self.sinks.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The outbox store shared by the sinks' tasks.
pub type SharedStore = Arc<Mutex<dyn OutboxStore>>;

/// Runs one delivery task per sink and the tidy pass until `shutdown`. Storage rings
/// `doorbell` when new rows are written.
pub async fn run_outbox(
    store: SharedStore,
    sinks: Vec<NamedSink>,
    doorbell: OutboxDoorbell,
    held: HeldOutbox,
    counters: Arc<OutboxCounters>,
    shutdown: CancellationToken,
) {
    {
        let mut c = counters.lock();
        for s in &sinks {
            c.entry(s.name.clone()).or_default();
        }
    }
    let names: Vec<String> = sinks.iter().map(|s| s.name.clone()).collect();
    let mut tasks = tokio::task::JoinSet::new();
    for sink in sinks {
        tasks.spawn(run_sink(
            store.clone(),
            sink,
            doorbell.listen(),
            held.clone(),
            counters.clone(),
            shutdown.clone(),
        ));
    }
    tasks.spawn(run_tidy(store, names, counters, shutdown));
    while tasks.join_next().await.is_some() {}
}

/// Runs `f` on the store off the runtime.
async fn with_store<T: Send + 'static>(
    store: &SharedStore,
    f: impl FnOnce(&mut dyn OutboxStore) -> T + Send + 'static,
) -> Option<T> {
    let store = store.clone();
    tokio::task::spawn_blocking(move || {
        let mut s = store.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut *s)
    })
    .await
    .ok()
}

/// Tells about rows owed to sinks no longer configured, then tidies every [`TIDY_EVERY`].
async fn run_tidy(
    store: SharedStore,
    names: Vec<String>,
    counters: Arc<OutboxCounters>,
    shutdown: CancellationToken,
) {
    if let Some(Ok(owed)) = with_store(&store, |s| s.owed_by_sink()).await {
        for (sink, n) in owed.iter().filter(|(s, _)| !names.contains(s)) {
            tracing::warn!(sink, rows = n, "notifications are owed to a sink no longer configured; they are kept (at most {OWED_MAX}) and delivered if it comes back");
        }
    }
    let mut every = tokio::time::interval(TIDY_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = every.tick() => {}
        }
        match with_store(&store, |s| s.tidy(OWED_MAX)).await {
            Some(Ok(t)) => {
                counters.purged.fetch_add(t.purged, Relaxed);
                for (sink, n) in t.dropped {
                    counters.dropped.fetch_add(n, Relaxed);
                    tracing::warn!(
                        sink,
                        dropped = n,
                        "more than {OWED_MAX} notifications were owed to this sink; the oldest were dropped"
                    );
                }
            }
            Some(Err(e)) => tracing::warn!(error = %e, "outbox tidy failed"),
            None => return,
        }
    }
}

/// Delivers one sink's rows in order until `shutdown`; see the module docs.
async fn run_sink(
    store: SharedStore,
    sink: NamedSink,
    mut bell: crate::storage::OutboxBell,
    held: HeldOutbox,
    counters: Arc<OutboxCounters>,
    shutdown: CancellationToken,
) {
    let name = sink.name.clone();
    // Rows delivered whose `delivered` mark could not be written yet (a full disk): not
    // delivered again, marked again each round.
    let mut unmarked: Vec<(i64, u64)> = Vec::new();
    let mut failures = 0u32;
    // Waits a monotonic delay, or returns false on shutdown.
    let pause = |d: Duration| {
        let shutdown = shutdown.clone();
        async move {
            tokio::select! {
                _ = shutdown.cancelled() => false,
                _ = tokio::time::sleep(d) => true,
            }
        }
    };
    'round: loop {
        if !unmarked.is_empty() {
            let pending = std::mem::take(&mut unmarked);
            unmarked = with_store(&store, move |s| {
                pending
                    .into_iter()
                    .filter(|(id, at)| s.delivered(*id, *at).is_err())
                    .collect()
            })
            .await
            .unwrap_or_default();
        }
        // Held in memory while storage fails: this sink's, oldest first.
        for item in held.due(u64::MAX).into_iter().filter(|i| i.sink == name) {
            let result = tokio::select! {
                _ = shutdown.cancelled() => return,
                r = sink.sink.deliver(&item.notification) => r,
            };
            match result {
                Ok(()) => {
                    failures = 0;
                    counters.record(&name, Ok(()));
                    tracing::info!(sink = name, alert = item.notification.id, state = %item.notification.state, "alert delivered from memory (storage is failing)");
                    held.mark_delivered(&item);
                }
                Err(e) => {
                    failures += 1;
                    let msg = e.to_string();
                    counters.record(&name, Err(&msg));
                    let (attempts, _) = item.retry_state();
                    tracing::warn!(sink = name, alert = item.notification.id, attempts = attempts + 1, error = %msg, "delivery from memory failed, will retry");
                    item.failed(attempts + 1, 0);
                    if !pause(backoff(failures)).await {
                        return;
                    }
                    continue 'round;
                }
            }
        }
        let owed = {
            let name = name.clone();
            with_store(&store, move |s| s.owed(&name, BATCH)).await
        };
        let owed = match owed {
            Some(Ok(items)) => items,
            Some(Err(e)) => {
                tracing::error!(sink = name, error = %e, "outbox read failed");
                Vec::new()
            }
            None => return,
        };
        for item in owed {
            if unmarked.iter().any(|(id, _)| *id == item.id) {
                continue;
            }
            let result = tokio::select! {
                _ = shutdown.cancelled() => return,
                r = sink.sink.deliver(&item.notification) => r,
            };
            let now = crate::unix_ms();
            match result {
                Ok(()) => {
                    failures = 0;
                    counters.record(&name, Ok(()));
                    tracing::info!(sink = name, alert = item.notification.id, state = %item.notification.state, "alert delivered");
                    let id = item.id;
                    match with_store(&store, move |s| s.delivered(id, now)).await {
                        Some(Ok(())) => {}
                        Some(Err(e)) => {
                            tracing::error!(sink = name, error = %e, "outbox update failed");
                            unmarked.push((id, now));
                        }
                        None => return,
                    }
                }
                Err(e) => {
                    failures += 1;
                    let msg = e.to_string();
                    counters.record(&name, Err(&msg));
                    let attempts = item.attempts + 1;
                    let wait = backoff(failures);
                    tracing::warn!(sink = name, alert = item.notification.id, attempts, error = %msg, "delivery failed, will retry");
                    let next = now + wait.as_millis() as u64;
                    if let Some(Err(e)) =
                        with_store(&store, move |s| s.retry(item.id, attempts, next, &msg)).await
                    {
                        tracing::error!(sink = name, error = %e, "outbox update failed");
                    }
                    // In order: the same row again once the backoff is over.
                    if !pause(wait).await {
                        return;
                    }
                    continue 'round;
                }
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = bell.rung() => {}
            _ = tokio::time::sleep(POLL) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(4), Duration::from_secs(8));
        assert_eq!(backoff(40), MAX_BACKOFF);
    }
}
