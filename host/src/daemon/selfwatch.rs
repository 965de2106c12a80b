//! The daemon watching itself: a state task that runs late (its tick fires well after it was due:
//! an overloaded host, a paused VM, a blocking call on the runtime) and a storage writer whose
//! queue keeps growing (a disk slower than the room) are alerts — `daemon_stalled` and
//! `storage_backlog` — not only counters. Judged on each tick from the tick's own lateness and
//! the writer's queue length; pure, so tests drive it with made-up numbers.
//!
//! A state task stuck for good cannot raise anything itself: `/metrics` then shows
//! `hemiwatch_state_task_last_tick_age_seconds` growing, for an external rule to page on.

use std::collections::VecDeque;
use std::time::Duration;

/// A tick this late means the state task was not running when it should have.
pub(super) const LAG_ALERT: Duration = Duration::from_secs(1);
/// `daemon_stalled` resolves after this long without a late tick.
const STALL_CLEAR_MS: u64 = 10_000;
/// The writer's queue is judged once per this long.
const BACKLOG_SAMPLE_MS: u64 = 1_000;
/// Below this many queued records the writer is keeping up, whatever the trend.
pub(super) const BACKLOG_MIN: u64 = 1_000;
/// `storage_backlog` fires when the queue grew at every sample of this many (10 s).
const BACKLOG_SAMPLES: usize = 10;

/// What the daemon's own health calls for: the summary of each alert that should stand.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Verdict {
    /// `daemon_stalled`.
    pub(super) stalled: Option<String>,
    /// `storage_backlog`.
    pub(super) backlog: Option<String>,
}

/// See the module docs.
#[derive(Debug, Default)]
pub(super) struct SelfWatch {
    /// The last late tick: when, and how late.
    last_late: Option<(u64, Duration)>,
    /// Queue length at each sample, oldest first.
    backlog: VecDeque<(u64, u64)>,
    /// `storage_backlog` stands (until the queue is below [`BACKLOG_MIN`]).
    backlog_firing: bool,
}

impl SelfWatch {
    /// A tick at `now_ms` that fired `lag` after it was due, with `queued` records waiting for
    /// the storage writer.
    pub(super) fn judge(&mut self, now_ms: u64, lag: Duration, queued: u64) -> Verdict {
        if lag >= LAG_ALERT {
            self.last_late = Some((now_ms, lag));
        }
        let stalled = self
            .last_late
            .filter(|(at, _)| now_ms.saturating_sub(*at) < STALL_CLEAR_MS)
            .map(|(_, lag)| {
                format!(
                    "the daemon's state task ran {} ms late: the host is overloaded or the daemon was paused; silence checks were held back",
                    lag.as_millis()
                )
            });
        if self
            .backlog
            .back()
            .is_none_or(|(at, _)| now_ms.saturating_sub(*at) >= BACKLOG_SAMPLE_MS)
        {
            self.backlog.push_back((now_ms, queued));
            while self.backlog.len() > BACKLOG_SAMPLES + 1 {
                self.backlog.pop_front();
            }
        }
        let growing = self.backlog.len() > BACKLOG_SAMPLES
            && self
                .backlog
                .iter()
                .zip(self.backlog.iter().skip(1))
                .all(|((_, a), (_, b))| b > a);
        if queued < BACKLOG_MIN {
            self.backlog_firing = false;
        } else if growing {
            self.backlog_firing = true;
        }
        let backlog = self.backlog_firing.then(|| {
            format!("the storage writer falls behind: {queued} records wait to be written and the queue keeps growing (a slow disk?); samples will be dropped first")
        });
        Verdict { stalled, backlog }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_late_tick_is_a_stall_until_ten_seconds_of_punctual_ones() {
        let mut w = SelfWatch::default();
        let ok = Duration::from_millis(2);
        assert_eq!(w.judge(0, ok, 0), Verdict::default());
        let v = w.judge(100, Duration::from_millis(3_000), 0);
        assert!(
            v.stalled.as_deref().is_some_and(|s| s.contains("3000 ms late")),
            "{v:?}"
        );
        assert!(
            w.judge(9_000, ok, 0).stalled.is_some(),
            "still within the clear time"
        );
        assert_eq!(w.judge(10_200, ok, 0).stalled, None);
        // Just under the threshold is not a stall.
        assert_eq!(
            w.judge(10_300, LAG_ALERT - Duration::from_millis(1), 0).stalled,
            None
        );
    }

    #[test]
    fn a_growing_backlog_is_an_alert_a_large_steady_one_is_not() {
        let mut w = SelfWatch::default();
        // Large but steady: not an alert.
        for s in 0..20 {
            assert_eq!(w.judge(s * 1_000, Duration::ZERO, 5_000).backlog, None);
        }
        // Growing every second for 10 s: an alert.
        let mut fired = None;
        for s in 20..32u64 {
            if w.judge(s * 1_000, Duration::ZERO, 5_000 + (s - 19) * 500)
                .backlog
                .is_some()
            {
                fired.get_or_insert(s);
            }
        }
        // Samples 19 (the last steady one) to 29: ten rises in a row.
        assert_eq!(fired, Some(29), "fired once it grew at each of 10 samples");
        // It stands while the queue is large, resolves once it is drained.
        assert!(w.judge(33_000, Duration::ZERO, 9_000).backlog.is_some());
        assert_eq!(w.judge(34_000, Duration::ZERO, BACKLOG_MIN - 1).backlog, None);
    }
}
