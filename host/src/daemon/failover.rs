//! Failover orders: what an overheat alert exists for. The seat is told to switch to its
//! standby, and told again every [`FAILOVER_RETRY_MS`] until its telemetry shows
//! `FAILOVER_ACTIVE`: a lost frame must not leave a seat about to overheat in service.
//!
//! The order stands as long as its alert fires: a seat whose telemetry stops showing
//! `FAILOVER_ACTIVE` while it does (it rebooted and came back in service) is ordered again, and
//! so is every seat of an alert restored firing after a daemon restart until its telemetry shows
//! the failover (the order before the restart may never have been confirmed).

use hemiwatch_protocol::{Failover, Flags, Message, SeatId};

use super::task::StateTask;
use crate::alert::{AlertState, EventKind};

/// An unanswered `Failover` order is sent again this often until the seat's telemetry shows it.
const FAILOVER_RETRY_MS: u64 = 1_000;

impl StateTask {
    /// Orders a seat into failover now and until its telemetry shows it.
    pub(super) fn order_failover(&mut self, seat: SeatId, now: u64) {
        let Some(tracked) = self.seats.get_mut(&seat) else {
            return;
        };
        if tracked.failover_wanted {
            return;
        }
        tracked.failover_wanted = true;
        tracked.failover_sent_ms = None;
        tracing::warn!(seat, "failover ordered");
        self.record_event(
            now,
            Some(seat),
            None,
            EventKind::FailoverOrdered,
            "the seat is told to switch to its standby".into(),
        );
        self.send_failover(seat, now);
    }

    /// Orders again the seats of firing failover alerts that are not in failover, nor being
    /// ordered into it: rebooted since, or restored firing after a restart.
    fn reassert_failovers(&mut self, now: u64) {
        let active = crate::decode::flag_names(Flags::from_bits(Flags::FAILOVER_ACTIVE));
        let lapsed: Vec<SeatId> = {
            let model = self.live.model.read().unwrap_or_else(|p| p.into_inner());
            self.engine
                .alerts()
                .filter(|a| a.state == AlertState::Firing && a.kind.orders_failover())
                .filter_map(|a| a.seat)
                .filter(|seat| self.seats.get(seat).is_some_and(|t| !t.failover_wanted))
                .filter(|seat| {
                    model
                        .seats
                        .get(seat)
                        .is_some_and(|s| !s.flags.iter().any(|f| active.contains(&f.as_str())))
                })
                .collect()
        };
        for seat in lapsed {
            tracing::warn!(
                seat,
                "the seat's overheat alert still fires and it is not in failover: ordered again"
            );
            self.order_failover(seat, now);
        }
    }

    /// Sends the orders whose seat has not shown failover and whose last send is old enough.
    pub(super) fn retry_failovers(&mut self, now: u64) {
        self.reassert_failovers(now);
        let due: Vec<SeatId> = self
            .seats
            .iter()
            .filter(|(_, tracked)| {
                tracked.failover_wanted
                    && tracked
                        .failover_sent_ms
                        .is_none_or(|t| now.saturating_sub(t) >= FAILOVER_RETRY_MS)
            })
            .map(|(id, _)| *id)
            .collect();
        for seat in due {
            self.send_failover(seat, now);
        }
    }

    /// Encodes one `Failover` order for the seat's session and queues it for its line.
    fn send_failover(&mut self, seat: SeatId, now: u64) {
        let Some(tracked) = self.seats.get_mut(&seat) else {
            return;
        };
        tracked.failover_sent_ms = Some(now);
        match self
            .ingest
            .command(seat, &Message::Failover(Failover { active: true }), now)
        {
            Ok((counter, send)) => {
                tracing::debug!(seat, counter, "failover sent");
                self.outbound.push(send);
            }
            // Not reachable now (no session yet, never heard): the retry timer tries again.
            Err(e) => tracing::debug!(seat, error = %e, "failover not sent yet"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, RwLock};
    use std::time::Duration;

    use hemiwatch_protocol::{Flags, Telemetry};
    use tokio::sync::{broadcast, mpsc};

    use super::super::{initial_model, StateTask};
    use crate::alert::{AlertState, Kind};
    use crate::config::{SeatSettings, Settings};
    use crate::ingest::IngestEvent;
    use crate::metrics::Metrics;
    use crate::model::{AlertView, LiveModel};
    use crate::storage::{Storage, StorageSettings};

    /// A state task for seat 1 (no line) on a fresh database in `dir`, with `open` restored as
    /// if the daemon restarted with those alerts open.
    fn task(dir: &std::path::Path, open: Vec<AlertView>) -> (StateTask, Storage) {
        let seats = vec![SeatSettings {
            place: crate::testkit::place(1, "A", None),
            key: None,
            tiers: crate::detect::tier::TierRules::default(),
            horizon_s: 300,
            period_ms: 500,
        }];
        let settings = Settings {
            lines: Vec::new(),
            http_bind: "127.0.0.1:0".parse().unwrap(),
            api_token: None,
            database: dir.join("t.sqlite"),
            raw_retention: Duration::from_secs(3600),
            rollup_retention: Duration::from_secs(3600),
            flush_interval: Duration::from_secs(1),
            sinks: Vec::new(),
            seats,
        };
        let (storage, mut restored, _writer) = Storage::open(
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
        restored.open_alerts = open;
        let (updates, _) = broadcast::channel(1024);
        let (requests, _) = mpsc::channel(1);
        let live = LiveModel {
            model: Arc::new(RwLock::new(initial_model(&settings.seats))),
            updates,
            requests,
        };
        let t = StateTask::new(
            &settings,
            live,
            Vec::new(),
            storage.clone(),
            &restored,
            Arc::new(Metrics::new()),
        );
        (t, storage)
    }

    fn overheat(state: AlertState) -> AlertView {
        AlertView {
            id: 7,
            kind: Kind::Overheat,
            seat: Some(1),
            line: None,
            sector: Some("A".into()),
            state,
            started_at_ms: 1_000,
            updated_at_ms: 1_000,
            predicted_critical_at_ms: None,
            summary: "S1 at 90 °C".into(),
            ack: None,
            silenced: false,
        }
    }

    fn sample(flags: Flags, centi: i16) -> IngestEvent {
        IngestEvent::Sample {
            seat: 1,
            line: 0,
            counter: 1,
            lost: 0,
            telemetry: Telemetry {
                uptime_min: 0,
                flags,
                temps: heapless::Vec::from_slice(&[centi]).unwrap(),
                supply_mv: 5_000,
            },
        }
    }

    fn wanted(t: &StateTask) -> bool {
        t.seats[&1].failover_wanted
    }

    #[test]
    fn an_overheat_restored_firing_after_a_restart_orders_the_failover_again() {
        let dir = tempfile::tempdir().unwrap();
        let (mut t, storage) = task(dir.path(), vec![overheat(AlertState::Firing)]);
        let now = crate::unix_ms();
        t.on_tick(now);
        assert!(
            wanted(&t),
            "the restored firing overheat orders failover until telemetry shows it"
        );
        // Telemetry confirms: the order is done and not repeated.
        t.apply(sample(Flags::from_bits(Flags::FAILOVER_ACTIVE), 9_000), now + 100);
        t.on_tick(now + 200);
        assert!(!wanted(&t));
        storage.close();
    }

    #[test]
    fn a_seat_rebooting_while_its_overheat_fires_is_ordered_into_failover_again() {
        let dir = tempfile::tempdir().unwrap();
        let (mut t, storage) = task(dir.path(), vec![overheat(AlertState::Firing)]);
        let now = crate::unix_ms();
        t.apply(sample(Flags::from_bits(Flags::FAILOVER_ACTIVE), 9_000), now);
        t.on_tick(now + 100);
        assert!(!wanted(&t), "in failover: nothing to order");
        // The seat reboots: a new boot, back in service, the alert still firing.
        t.apply(
            IngestEvent::SessionOpened {
                seat: 1,
                boot_id: 0xB007,
                new_boot: true,
            },
            now + 200,
        );
        t.apply(sample(Flags::default(), 9_000), now + 300);
        t.on_tick(now + 400);
        assert!(wanted(&t), "the rebooted seat is ordered into failover again");
        storage.close();
    }

    #[test]
    fn a_firing_alert_that_orders_no_failover_orders_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let silent = AlertView {
            kind: Kind::SensorFault,
            ..overheat(AlertState::Firing)
        };
        let (mut t, storage) = task(dir.path(), vec![silent]);
        t.apply(sample(Flags::default(), 4_000), crate::unix_ms());
        t.on_tick(crate::unix_ms());
        assert!(!wanted(&t));
        storage.close();
    }
}
