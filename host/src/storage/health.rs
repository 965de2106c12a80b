//! Whether storage works, as the writer sees it: the named events of a commit that failed or
//! succeeded, each logging and counting in one place. A failing disk logs once when the failure
//! starts, then one line a minute with a count ("storage: 57 commits failed in the last 60 s:
//! database or disk is full"), and once when writes succeed again; the state task reads
//! [`StorageCounters::failing`] to raise or resolve the `storage_failing` alert.

use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use super::{StorageCounters, StorageError};

/// Failed commits are summarised in one log line per this long.
const LOG_EVERY: Duration = Duration::from_secs(60);
/// An outage ends once commits have succeeded, without a failure, for this long: a nearly full
/// disk lets small commits through between failing ones, and the alert must not flap with them.
const RECOVERED_AFTER: Duration = Duration::from_secs(5);

/// The writer's view of the outage in progress, if any.
#[derive(Debug, Default)]
pub(super) struct Health {
    /// Since when commits fail, and how many failed in all.
    outage: Option<(Instant, u64)>,
    /// During an outage: since when commits succeed without a failure.
    succeeding_since: Option<Instant>,
    /// Failures since the last log line, when it was written, and the last error.
    window: Option<(Instant, u64, String)>,
}

impl Health {
    /// A commit failed: count it, remember why, and log it (at once for the first failure, then
    /// summarised once a minute). `kept` records wait for the next attempt.
    pub(super) fn commit_failed(&mut self, counters: &StorageCounters, e: &StorageError, kept: usize) {
        counters.errors.fetch_add(1, Relaxed);
        self.succeeding_since = None;
        let msg = e.to_string();
        *counters.last_error.lock().unwrap_or_else(|p| p.into_inner()) = msg.clone();
        match &mut self.outage {
            None => {
                self.outage = Some((Instant::now(), 1));
                counters.failing_since_ms.store(crate::unix_ms(), Relaxed);
                self.window = Some((Instant::now(), 0, msg.clone()));
                tracing::error!(
                    error = %msg,
                    kept,
                    "storage commit failed; alerts, events and notifications are kept in memory and retried (samples are dropped)"
                );
            }
            Some((_, n)) => *n += 1,
        }
        if let Some((since, n, last)) = &mut self.window {
            *n += 1;
            *last = msg;
            if since.elapsed() >= LOG_EVERY {
                tracing::error!(
                    kept,
                    "storage: {n} commits failed in the last {} s: {last}",
                    since.elapsed().as_secs()
                );
                *since = Instant::now();
                *n = 0;
            }
        }
    }

    /// Whether commits are failing (the writer then commits on every flush interval, even with
    /// nothing new, so the end of the outage is seen).
    pub(super) fn in_outage(&self) -> bool {
        self.outage.is_some()
    }

    /// A commit succeeded: an outage in progress is over once commits have kept succeeding for
    /// [`RECOVERED_AFTER`].
    pub(super) fn commit_succeeded(&mut self, counters: &StorageCounters, written: usize) {
        if self.outage.is_none() {
            return;
        }
        let ok_since = *self.succeeding_since.get_or_insert_with(Instant::now);
        if ok_since.elapsed() < RECOVERED_AFTER {
            return;
        }
        self.succeeding_since = None;
        if let Some((since, n)) = self.outage.take() {
            self.window = None;
            counters.failing_since_ms.store(0, Relaxed);
            tracing::warn!(
                failed_commits = n,
                written,
                "storage writes succeed again after {} s; the records kept meanwhile are written",
                since.elapsed().as_secs()
            );
        }
    }
}
