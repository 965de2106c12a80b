//! Publication: the live model is updated first, then the change goes out on the broadcast
//! channel the dashboard's SSE stream and the tests read. A seat's status change goes out at
//! once; its temperature at most every [`PUBLISH_EVERY_MS`], so 577 seats at 2 Hz do not flood
//! the dashboard. Alerts always go out, once storage has committed them, and the model keeps a
//! bounded tail of resolved ones.

use hemiwatch_protocol::SeatId;
use tokio::sync::broadcast;

use super::seat_update::{combined_status, TrackedSeat};
use super::task::StateTask;
use crate::alert::AlertState;
use crate::model::{AlertView, LiveModel, SeatState, Update};

/// A seat's temperature is republished to live views at most this often (status changes go out
/// at once).
const PUBLISH_EVERY_MS: u64 = 1_000;
/// Resolved alerts kept in the live model for the views (the engine keeps as many).
const RESOLVED_IN_MODEL: usize = 200;

/// Publishes a seat whose model entry just changed: now if its status `changed` or its last
/// publication is old enough, else it stays dirty for [`StateTask::publish_throttled`].
pub(super) fn publish_seat(
    updates: &broadcast::Sender<Update>,
    tracked: &mut TrackedSeat,
    state: &SeatState,
    changed: bool,
    now: u64,
) {
    tracked.dirty = true;
    if changed || now.saturating_sub(tracked.last_published_ms) >= PUBLISH_EVERY_MS {
        tracked.last_published_ms = now;
        tracked.dirty = false;
        let _ = updates.send(Update::Seat(Box::new(state.clone())));
    }
}

impl StateTask {
    /// Publishes the seats whose changes were held back and whose turn has come.
    pub(super) fn publish_throttled(&mut self, now: u64) {
        let model = self.live.model.read().unwrap_or_else(|p| p.into_inner());
        for (id, tracked) in &mut self.seats {
            if tracked.dirty && now.saturating_sub(tracked.last_published_ms) >= PUBLISH_EVERY_MS {
                if let Some(state) = model.seats.get(id) {
                    let _ = self.live.updates.send(Update::Seat(Box::new(state.clone())));
                }
                tracked.dirty = false;
                tracked.last_published_ms = now;
            }
        }
    }

    /// Publishes alert changes once storage has committed them (or, while storage fails,
    /// kept them in memory: monitoring must not wait for the disk), so that what the API and
    /// the dashboard show survives a crash right after it shows. The hook runs on the storage
    /// writer's thread, in record order: an acknowledgement's answer, which waits for a later
    /// commit, goes out after its alert is published.
    pub(super) fn publish_alerts_once_committed(&self, views: Vec<AlertView>) {
        let live = self.live.clone();
        self.storage.after_commit(move |result| {
            if let Err(e) = result {
                tracing::debug!(error = e, "alerts published before they are on disk");
            }
            for view in &views {
                publish_alert(&live, view);
            }
        });
    }
}

/// Puts an alert's view into the live model (keeping a bounded tail of resolved ones) and tells
/// the live views.
fn publish_alert(live: &LiveModel, view: &AlertView) {
    let mut model = live.model.write().unwrap_or_else(|p| p.into_inner());
    model.alerts.insert(view.id, view.clone());
    let resolved: Vec<i64> = model
        .alerts
        .values()
        .filter(|a| a.state == AlertState::Resolved)
        .map(|a| a.id)
        .collect();
    if resolved.len() > RESOLVED_IN_MODEL {
        for id in &resolved[..resolved.len() - RESOLVED_IN_MODEL] {
            model.alerts.remove(id);
        }
    }
    let _ = live.updates.send(Update::Alert(Box::new(view.clone())));
}

impl StateTask {
    /// Recomputes the status of `seats` from their last sample and the open alerts, and
    /// publishes those that changed.
    pub(super) fn refresh_status(&mut self, seats: &[SeatId], now: u64) {
        let mut model = self.live.model.write().unwrap_or_else(|p| p.into_inner());
        for seat in seats {
            let (Some(state), Some(tracked)) = (model.seats.get_mut(seat), self.seats.get_mut(seat)) else {
                continue;
            };
            let status = combined_status(tracked.sample_status, self.engine.status(*seat));
            if status != state.status {
                state.status = status;
                tracked.last_published_ms = now;
                tracked.dirty = false;
                let _ = self.live.updates.send(Update::Seat(Box::new(state.clone())));
            }
        }
    }
}
