//! An alert's lifecycle: a detector's signal opens it (`pending`), fires it or resolves it; each
//! step becomes an [`AlertChange`] for the daemon, with the failover order and the notification
//! the step calls for. A notification is held back while a silence matches the alert or a
//! higher temperature tier fires for its seat ([`Kind::inhibited_by`]); an alert still firing
//! when that ends notifies then.

use hemiwatch_protocol::SeatId;

use super::notify::notification;
use super::{AlertChange, AlertEngine, AlertState, Kind, OpenAlert, Subject, RECENT_RESOLVED};
use crate::detect::Signal;
use crate::model::AlertView;
use crate::sink::Notification;

/// A pending prediction whose crossing time moved by more than this is republished.
const PREDICTION_REPUBLISH_MS: u64 = 60_000;

impl AlertEngine {
    /// Applies a detector's signal to the alert of `kind` about `subject`.
    pub(super) fn set(&mut self, kind: Kind, subject: Subject, signal: Signal, now_ms: u64) {
        if signal == Signal::Clear && self.by_key.is_empty() {
            return; // every frame clears its seat's silence: usually nothing to look up
        }
        let key = (kind, subject);
        match (self.by_key.get(&key).copied(), signal) {
            (None, Signal::Clear) => {}
            (None, s) => {
                let id = self.next_id;
                self.next_id += 1;
                let view = self.new_view(id, kind, &key.1, now_ms);
                self.by_key.insert(key.clone(), id);
                self.open.insert(
                    id,
                    OpenAlert {
                        view,
                        subject: key.1.clone(),
                        notified: false,
                    },
                );
                self.update_silenced(id, now_ms);
                if s == Signal::Firing {
                    self.fire(id, now_ms);
                } else {
                    self.publish(id, None, None);
                }
            }
            (Some(id), Signal::Clear) => self.resolve(id, now_ms),
            (Some(id), Signal::Firing) => {
                if self
                    .open
                    .get(&id)
                    .is_some_and(|o| o.view.state == AlertState::Pending)
                {
                    self.fire(id, now_ms);
                }
            }
            (Some(_), Signal::Pending) => {}
        }
    }

    /// The view of a newly opened alert.
    fn new_view(&self, id: i64, kind: Kind, subject: &Subject, now_ms: u64) -> AlertView {
        let (seat, line, sector) = match subject {
            Subject::Seat(s) => (
                Some(*s),
                self.seats.get(s).and_then(|w| w.line().map(str::to_owned)),
                self.seats.get(s).map(|w| w.rules.sector.clone()),
            ),
            Subject::Line(l) => (None, Some(l.clone()), None),
            Subject::Daemon => (None, None, None),
        };
        AlertView {
            id,
            kind,
            seat,
            line,
            sector,
            state: AlertState::Pending,
            started_at_ms: now_ms,
            updated_at_ms: now_ms,
            predicted_critical_at_ms: None,
            summary: self.summary(kind, subject, now_ms),
            ack: None,
            silenced: false,
        }
    }

    /// Keeps an open prediction's crossing time current, republishing when it moved much.
    pub(super) fn refresh_prediction(&mut self, seat: SeatId, now_ms: u64) {
        let Some(&id) = self.by_key.get(&(Kind::OverheatPredicted, Subject::Seat(seat))) else {
            return;
        };
        let predicted = self.seats.get(&seat).and_then(|w| w.trend.predicted_at_ms());
        let summary = self.summary(Kind::OverheatPredicted, &Subject::Seat(seat), now_ms);
        let Some(open) = self.open.get_mut(&id) else {
            return;
        };
        let moved = match (open.view.predicted_critical_at_ms, predicted) {
            (Some(a), Some(b)) => a.abs_diff(b) > PREDICTION_REPUBLISH_MS,
            (None, Some(_)) => true,
            _ => false,
        };
        if predicted.is_some() {
            open.view.predicted_critical_at_ms = predicted;
        }
        if moved {
            open.view.summary = summary;
            open.view.updated_at_ms = now_ms;
            self.publish(id, None, None);
        }
    }

    /// Fires an open alert: orders the failover its kind calls for, notifies unless silenced.
    fn fire(&mut self, id: i64, now_ms: u64) {
        let (kind, subject) = match self.open.get(&id) {
            Some(o) => (o.view.kind, o.subject.clone()),
            None => return,
        };
        let summary = self.summary(kind, &subject, now_ms);
        let label = self.label(&subject);
        let inhibited = self.inhibited(kind, &subject);
        let predicted = match subject {
            Subject::Seat(s) if kind == Kind::OverheatPredicted => {
                self.seats.get(&s).and_then(|w| w.trend.predicted_at_ms())
            }
            _ => None,
        };
        let Some(open) = self.open.get_mut(&id) else {
            return;
        };
        open.view.state = AlertState::Firing;
        open.view.updated_at_ms = now_ms;
        open.view.summary = summary;
        if predicted.is_some() {
            open.view.predicted_critical_at_ms = predicted;
        }
        let failover = match open.subject {
            Subject::Seat(s) if kind.orders_failover() => Some(s),
            _ => None,
        };
        let notify = (!open.view.silenced && !inhibited).then(|| {
            open.notified = true;
            notification(&open.view, None, label.clone())
        });
        self.publish(id, notify, failover);
    }

    /// Whether a firing alert of a higher temperature tier about the same seat holds back the
    /// notifications of the alert of `kind` about `subject`.
    pub(super) fn inhibited(&self, kind: Kind, subject: &Subject) -> bool {
        let Subject::Seat(_) = subject else {
            return false;
        };
        Kind::ALL.into_iter().filter(|k| kind.inhibited_by(*k)).any(|k| {
            self.by_key
                .get(&(k, subject.clone()))
                .and_then(|id| self.open.get(id))
                .is_some_and(|o| o.view.state == AlertState::Firing)
        })
    }

    /// After an alert about `subject` resolved: the alerts it inhibited that still fire, are not
    /// silenced, no longer inhibited and were never notified, notify now (a seat back from
    /// emergency to critical says so).
    fn release_inhibited(&mut self, resolved: Kind, subject: &Subject, now_ms: u64) {
        let held: Vec<(Kind, i64)> = Kind::ALL
            .into_iter()
            .filter(|k| k.inhibited_by(resolved))
            .filter_map(|k| Some((k, *self.by_key.get(&(k, subject.clone()))?)))
            .collect();
        for (kind, id) in held {
            if self.inhibited(kind, subject) {
                continue;
            }
            let summary = self.summary(kind, subject, now_ms);
            let label = self.label(subject);
            let Some(open) = self.open.get_mut(&id) else {
                continue;
            };
            if open.view.state != AlertState::Firing || open.view.silenced || open.notified {
                continue;
            }
            open.notified = true;
            open.view.summary = summary;
            open.view.updated_at_ms = now_ms;
            let notify = notification(&open.view, None, label);
            self.publish(id, Some(notify), None);
        }
    }

    /// Resolves an open alert, notifying the sinks if they were told it fired.
    pub(super) fn resolve(&mut self, id: i64, now_ms: u64) {
        let Some(mut open) = self.open.remove(&id) else {
            return;
        };
        self.by_key.remove(&(open.view.kind, open.subject.clone()));
        let label = self.label(&open.subject);
        let was_firing = open.view.state == AlertState::Firing;
        open.view.state = AlertState::Resolved;
        open.view.updated_at_ms = now_ms;
        let notify = (was_firing && open.notified).then(|| notification(&open.view, Some(now_ms), label));
        self.changes.push(AlertChange::Alert {
            view: Box::new(open.view.clone()),
            notify: notify.map(Box::new),
            failover: None,
        });
        let (kind, subject) = (open.view.kind, open.subject.clone());
        if self.resolved.len() >= RECENT_RESOLVED {
            self.resolved.pop_front();
        }
        self.resolved.push_back(open.view);
        if was_firing && kind.tier().is_some() {
            self.release_inhibited(kind, &subject, now_ms);
        }
    }

    /// Queues an open alert's current view, with what it owes the sinks and the seat.
    pub(super) fn publish(&mut self, id: i64, notify: Option<Notification>, failover: Option<SeatId>) {
        if let Some(open) = self.open.get(&id) {
            self.changes.push(AlertChange::Alert {
                view: Box::new(open.view.clone()),
                notify: notify.map(Box::new),
                failover,
            });
        }
    }
}
