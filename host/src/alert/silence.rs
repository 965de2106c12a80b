//! Silences: a technician mutes the notifications of matching alerts until a time (a known
//! maintenance on a sector, a seat awaiting a spare). Alerts still open, show and act (failover);
//! only the sinks stay quiet.

use serde::{Deserialize, Serialize};

use crate::model::{AlertView, SilenceMatcher};

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
            && m.kind.as_deref().is_none_or(|k| alert.kind == k)
            && m.sector
                .as_deref()
                .is_none_or(|want| sector.or(alert.sector.as_deref()) == Some(want))
    }
}
