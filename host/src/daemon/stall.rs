//! Stall detection: ticks further apart than [`STALL_MS`] mean the daemon itself was not running
//! (an overloaded host, a paused VM). Frames may then be waiting unread in the line buffers, so
//! silence is not judged until [`STALL_GRACE_MS`] after the daemon runs again, time for the
//! lines to deliver what queued up. A stalled monitor must not page anyone about seats that were
//! talking all along.

use crate::metrics::Metrics;

/// Ticks further apart than this mean the daemon itself was not running.
const STALL_MS: u64 = 1_000;
/// Silence is judged again this long after a stall.
const STALL_GRACE_MS: u64 = 1_000;

/// Watches the gaps between ticks.
#[derive(Debug, Default)]
pub(super) struct StallGuard {
    /// The previous tick.
    last_tick_ms: Option<u64>,
    /// Silence is not judged before this time.
    judge_silence_from_ms: u64,
}

impl StallGuard {
    /// A tick at `now`: counts and logs a stall, and says whether silence may be judged.
    pub(super) fn judge_silence(&mut self, now: u64, metrics: &Metrics) -> bool {
        let gap = self.last_tick_ms.map_or(0, |t| now.saturating_sub(t));
        self.last_tick_ms = Some(now);
        if gap > STALL_MS {
            metrics.stalls.inc();
            self.judge_silence_from_ms = now + STALL_GRACE_MS;
            tracing::warn!(
                gap_ms = gap,
                "the daemon itself was not running for {gap} ms; silence checks resume in {STALL_GRACE_MS} ms"
            );
        }
        now >= self.judge_silence_from_ms
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, RwLock};
    use std::time::Duration;

    use tokio::sync::{broadcast, mpsc};

    use super::super::task::StateTask;
    use crate::config::LineSettings;
    use crate::config::{SeatSettings, Settings};
    use crate::daemon::initial_model;
    use crate::metrics::Metrics;
    use crate::model::LiveModel;
    use crate::model::SeatPlace;
    use crate::source::Endpoint;
    use crate::storage::Storage;
    use crate::storage::StorageSettings;

    /// A daemon that was itself not running for 5 s does not call its seats silent for it: the
    /// silence checks wait until the lines have had a second to deliver what queued up, and the
    /// stall is counted. (Here nothing ever speaks, so once they resume the seats are silent.)
    #[test]
    fn a_stalled_daemon_holds_its_silence_checks_back() {
        let dir = tempfile::tempdir().unwrap();
        let seats: Vec<SeatSettings> = (1..=3)
            .map(|id| SeatSettings {
                place: SeatPlace {
                    id,
                    label: format!("S{id}"),
                    sector: "A".into(),
                    row: 1,
                    position: id,
                    line: Some("a".into()),
                },
                key: None,
                tiers: crate::detect::tier::TierRules::default(),
                horizon_s: 300,
                period_ms: 500,
            })
            .collect();
        let settings = Settings {
            lines: vec![LineSettings::new(
                "a",
                Endpoint::parse("/dev/null", 115_200).unwrap(),
            )],
            http_bind: "127.0.0.1:0".parse().unwrap(),
            api_token: None,
            database: dir.path().join("t.sqlite"),
            raw_retention: Duration::from_secs(3600),
            rollup_retention: Duration::from_secs(3600),
            flush_interval: Duration::from_secs(1),
            sinks: Vec::new(),
            seats,
        };
        let (storage, restored, writer) = Storage::open(
            &StorageSettings {
                path: settings.database.clone(),
                raw_retention: settings.raw_retention,
                rollup_retention: settings.rollup_retention,
                flush_interval: settings.flush_interval,
                sinks: Vec::new(),
            },
            crate::storage::OutboxDoorbell::new(),
        )
        .unwrap();
        let (updates, _keep) = broadcast::channel(1024);
        let (requests, _rx) = mpsc::channel(1);
        let live = LiveModel {
            model: Arc::new(RwLock::new(initial_model(&settings.seats))),
            updates,
            requests,
        };
        let metrics = Arc::new(Metrics::new());
        let t0 = crate::unix_ms();
        let mut task = StateTask::new(
            &settings,
            live.clone(),
            Vec::new(),
            storage.clone(),
            &restored,
            metrics.clone(),
        );
        // Alerts are published once committed: the flush waits for that.
        let alerts = |live: &LiveModel| {
            storage.flush().unwrap();
            live.model.read().unwrap().alerts.len()
        };
        // Ticking normally through the start-up grace: nothing.
        for t in (0..=9_000).step_by(100) {
            task.on_tick(t0 + t);
        }
        assert_eq!(alerts(&live), 0);
        // 5 s without a tick (the daemon was not scheduled), then ticking again.
        for t in (14_000..15_000).step_by(100) {
            task.on_tick(t0 + t);
            assert_eq!(alerts(&live), 0, "judged silence {} ms after a stall", t - 14_000);
        }
        assert_eq!(metrics.stalls.get(), 1);
        task.on_tick(t0 + 15_000);
        assert!(alerts(&live) > 0, "silence checks resumed after the grace");
        drop(task);
        storage.close();
        writer.join().unwrap();
    }
}
