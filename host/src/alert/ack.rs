//! Acknowledgements: a technician says "I have this one". The alert keeps its state and its
//! actions; the views show who took it, when and why. An alert that nothing else can clear
//! ([`Kind::resolved_by_ack`](super::Kind::resolved_by_ack)) is resolved by it.

use super::{AlertChange, AlertEngine};
use crate::model::{AckView, AlertView, RequestError};

impl AlertEngine {
    /// Acknowledges an open alert.
    pub fn ack(&mut self, id: i64, by: &str, comment: &str, now_ms: u64) -> Result<AlertView, RequestError> {
        if by.trim().is_empty() {
            return Err(RequestError::Invalid("`by` must name who acknowledges".into()));
        }
        let Some(open) = self.open.get_mut(&id) else {
            return if self.resolved.iter().any(|a| a.id == id) {
                Err(RequestError::Invalid(format!("alert {id} is already resolved")))
            } else {
                Err(RequestError::NoSuchAlert(id))
            };
        };
        open.view.ack = Some(AckView {
            by: by.to_owned(),
            at_ms: now_ms,
            comment: comment.to_owned(),
        });
        open.view.updated_at_ms = now_ms;
        let view = open.view.clone();
        self.changes.push(AlertChange::Alert {
            view: Box::new(view.clone()),
            notify: None,
            failover: None,
        });
        if view.kind.resolved_by_ack() {
            self.resolve(id, now_ms);
            if let Some(resolved) = self.resolved.back().filter(|a| a.id == id) {
                return Ok(resolved.clone());
            }
        }
        Ok(view)
    }
}
