//! Silences: a technician mutes the notifications of matching alerts until a time (a known
//! maintenance on a sector, a seat awaiting a spare). Alerts still open, show and act (failover);
//! only the sinks stay quiet. An alert that still fires when its silence ends notifies then.

use serde::{Deserialize, Serialize};

use super::notify::notification;
use super::{AlertChange, AlertEngine, AlertState, Kind, Subject};
use crate::model::{AlertView, RequestError, SilenceMatcher};

/// A silence as the API shows it and storage keeps it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Silence {
    /// Stable id.
    pub id: i64,
    /// Which alerts it covers.
    pub matcher: SilenceMatcher,
    /// Unix ms when it ends.
    pub until_ms: u64,
    /// Who set it.
    pub by: String,
    /// Why.
    pub comment: String,
    /// Unix ms when it was set.
    pub created_at_ms: u64,
}

impl Silence {
    /// Whether it covers `alert` (whose seat sits in `sector`); absent matcher fields match all.
    pub fn matches(&self, alert: &AlertView, sector: Option<&str>) -> bool {
        let m = &self.matcher;
        m.seat.is_none_or(|s| alert.seat == Some(s))
            && m.kind.as_deref().is_none_or(|k| alert.kind.name() == k)
            && m.sector
                .as_deref()
                .is_none_or(|want| sector.or(alert.sector.as_deref()) == Some(want))
    }
}

impl AlertEngine {
    /// Silences matching alerts until `until_ms`.
    pub fn silence(
        &mut self,
        matcher: SilenceMatcher,
        until_ms: u64,
        by: &str,
        comment: &str,
        now_ms: u64,
    ) -> Result<Silence, RequestError> {
        if until_ms <= now_ms {
            return Err(RequestError::Invalid("the silence must end in the future".into()));
        }
        if by.trim().is_empty() {
            return Err(RequestError::Invalid("`by` must name who silences".into()));
        }
        if let Some(kind) = &matcher.kind {
            if Kind::from_name(kind).is_none() {
                return Err(RequestError::Invalid(format!(
                    "unknown alert kind `{kind}`; expected one of {}",
                    Kind::ALL.map(Kind::name).join(", ")
                )));
            }
        }
        let s = Silence {
            id: self.next_silence_id,
            matcher,
            until_ms,
            by: by.to_owned(),
            comment: comment.to_owned(),
            created_at_ms: now_ms,
        };
        self.next_silence_id += 1;
        self.silences.push(s.clone());
        self.changes.push(AlertChange::Silence(s.clone()));
        let ids: Vec<i64> = self.open.keys().copied().collect();
        for id in ids {
            self.update_silenced(id, now_ms);
        }
        Ok(s)
    }

    /// Recomputes whether an open alert is silenced; unmuted while firing and never notified (nor
    /// inhibited by a higher tier), the sinks hear of it now.
    pub(super) fn update_silenced(&mut self, id: i64, now_ms: u64) {
        let Some(open) = self.open.get(&id) else { return };
        let sector = match &open.subject {
            Subject::Seat(s) => self.seats.get(s).map(|w| w.rules.sector.as_str()),
            Subject::Line(_) | Subject::Daemon => None,
        };
        let silenced = self
            .silences
            .iter()
            .any(|s| s.until_ms > now_ms && s.matches(&open.view, sector));
        let label = self.label(&open.subject);
        let inhibited = self.inhibited(open.view.kind, &open.subject);
        if let Some(open) = self.open.get_mut(&id) {
            if open.view.silenced != silenced {
                open.view.silenced = silenced;
                open.view.updated_at_ms = now_ms;
                // Still inhibited by a higher tier: it notifies when that one resolves.
                let owed = !silenced && !inhibited && open.view.state == AlertState::Firing && !open.notified;
                let notify = owed.then(|| {
                    open.notified = true;
                    notification(&open.view, None, label)
                });
                self.publish(id, notify, None);
            }
        }
    }

    /// Drops the silences that ended and unmutes what they covered.
    pub(super) fn expire_silences(&mut self, now_ms: u64) {
        let before = self.silences.len();
        self.silences.retain(|s| s.until_ms > now_ms);
        if self.silences.len() != before {
            let ids: Vec<i64> = self.open.keys().copied().collect();
            for id in ids {
                self.update_silenced(id, now_ms);
            }
        }
    }
}
