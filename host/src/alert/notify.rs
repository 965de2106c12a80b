//! What the sinks are owed: the [`Notification`] of an alert's current state, labelled with its
//! seat's human name.

use super::{AlertEngine, Subject};
use crate::model::AlertView;
use crate::sink::Notification;

impl AlertEngine {
    /// The label of the seat an alert is about (lines have none).
    pub(super) fn label(&self, subject: &Subject) -> Option<String> {
        match subject {
            Subject::Seat(s) => self.seats.get(s).map(|w| w.rules.label.clone()),
            Subject::Line(_) | Subject::Daemon => None,
        }
    }
}

/// The notification of an alert's current state (`resolved_at_ms` when resolving).
pub(super) fn notification(
    view: &AlertView,
    resolved_at_ms: Option<u64>,
    label: Option<String>,
) -> Notification {
    Notification {
        id: view.id,
        kind: view.kind,
        state: view.state,
        seat: view.seat,
        label,
        sector: view.sector.clone(),
        line: view.line.clone(),
        summary: view.summary.clone(),
        started_at_ms: view.started_at_ms,
        resolved_at_ms,
        predicted_critical_at_ms: view.predicted_critical_at_ms,
    }
}
