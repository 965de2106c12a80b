//! The alert engine: turns what the detectors say into alerts with a lifecycle
//! (`pending` → `firing` → `resolved`), one open alert per (kind, seat) and per line, with
//! acknowledgements, silences, inhibition, and the actions an alert exists for: a `Failover`
//! order to the seat and notifications for the sinks.
//!
//! Pure and synchronous like the detectors: time is a parameter, nothing is written or sent
//! here. The daemon's state task feeds it, drains its [`AlertChange`]s, persists them (storage
//! writes the outbox row in the same transaction) and sends the failover orders; `replay` feeds
//! it a recorded CSV with the clock taken from the data.
//!
//! Rules:
//! - a detector's `Pending` opens a pending alert, `Firing` fires it (directly if need be),
//!   `Clear` resolves it;
//! - a kind that [orders failover](Kind::orders_failover) orders the seat's failover on firing
//!   (even when silenced: a silence mutes notifications, not safety);
//! - a sensor fault suppresses the overheat kinds (prediction and tiers) for that seat (a broken
//!   sensor is never an overheat);
//! - a firing temperature tier holds back the notifications of the lower tiers of its seat
//!   ([`Kind::inhibited_by`]); one still firing when the higher tier resolves notifies then;
//! - a `line_down` alert stands for its seats: their `seat_silent` alerts are not raised, and
//!   those open are resolved;
//! - notifications go out on firing and on resolving a notified alert; a silenced alert notifies
//!   when its silence ends if it still fires.
//!
//! One file per job:
//! - [`kind`]: the vocabulary (alert kinds, severities, states, event kinds);
//! - `watch`: what the engine is told (frames heard, samples, lines, time) and line inhibition;
//! - `lifecycle`: opening, firing, resolving and publishing an alert;
//! - `ack` and [`silence`]: what technicians do to alerts;
//! - `summary`: the sentence each alert carries;
//! - `notify`: what the sinks are owed;
//! - `restore`: taking back what was open before a restart.

mod ack;
pub mod kind;
mod lifecycle;
mod notify;
mod restore;
pub mod silence;
mod summary;
mod watch;

use std::collections::{BTreeMap, HashMap, VecDeque};

use hemiwatch_protocol::SeatId;

pub use kind::{AlertState, EventKind, Kind, Severity};
pub use silence::Silence;

use crate::detect::{silent, SeatRules};
use crate::model::{AlertView, SeatStatus};
use crate::sink::Notification;
use watch::{LineWatch, SeatWatch};

/// How often the engine's clock runs ([`AlertEngine::tick`]): the daemon ticks on the wall clock
/// at this rate, `replay` on the data clock; silence deadlines are that precise.
pub const TICK_MS: u64 = silent::CHECK_MS;
/// Resolved alerts kept in memory for the views, at most.
const RECENT_RESOLVED: usize = 200;

/// What an alert is about: the key of "one open alert per kind and subject".
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Subject {
    Seat(SeatId),
    Line(String),
    /// The daemon itself (its storage, its own health).
    Daemon,
}

/// What the engine asks the daemon to record and do.
#[derive(Clone, Debug, PartialEq)]
pub enum AlertChange {
    /// An alert was raised, changed state, was acknowledged or silenced.
    Alert {
        /// Its view now.
        view: Box<AlertView>,
        /// What sinks are owed, if anything.
        notify: Option<Box<Notification>>,
        /// Order this seat's failover.
        failover: Option<SeatId>,
    },
    /// A silence was created.
    Silence(Silence),
    /// The trend detector's second stage: the seat is confidently going to cross critical, order
    /// its failover (an early warning alone never does).
    Failover(crate::detect::trend::FailoverOrder),
}

/// An alert still standing (pending or firing).
struct OpenAlert {
    /// What the views show.
    view: AlertView,
    /// The subject it is keyed by (the view holds the seat and line only as display fields).
    subject: Subject,
    /// The sinks were told it fires: they are owed its resolution.
    notified: bool,
}

/// See the module docs.
pub struct AlertEngine {
    /// Detectors and liveness of every configured seat.
    seats: BTreeMap<SeatId, SeatWatch>,
    /// Lines, their seats and whether they are down.
    lines: BTreeMap<String, LineWatch>,
    /// Open alerts by id.
    open: BTreeMap<i64, OpenAlert>,
    /// Open alert ids by (kind, subject): at most one each.
    by_key: HashMap<(Kind, Subject), i64>,
    /// The last resolved alerts, for fresh views.
    resolved: VecDeque<AlertView>,
    /// Silences not yet expired.
    silences: Vec<Silence>,
    /// The next alert id (continues the stored ones).
    next_id: i64,
    /// The next silence id (continues the stored ones).
    next_silence_id: i64,
    /// What happened since the last [`Self::drain`].
    changes: Vec<AlertChange>,
    /// Why storage fails, while it does (the `storage_failing` summary).
    storage_error: Option<String>,
    /// What the last database recovery kept and lost (the `storage_recovered` summary).
    recovery_note: Option<String>,
    /// The latest summary of each alert about the daemon's own health.
    daemon_notes: BTreeMap<Kind, String>,
}

impl AlertEngine {
    /// An engine watching `seats`, started at `now_ms`; alert ids continue after `max_alert_id`.
    pub fn new(seats: impl IntoIterator<Item = SeatRules>, now_ms: u64, max_alert_id: i64) -> Self {
        let mut lines: BTreeMap<String, LineWatch> = BTreeMap::new();
        let seats: BTreeMap<_, _> = seats
            .into_iter()
            .map(|rules| {
                if let Some(l) = &rules.line {
                    lines.entry(l.clone()).or_default().seats.push(rules.seat);
                }
                (rules.seat, SeatWatch::new(rules, now_ms))
            })
            .collect();
        Self {
            seats,
            lines,
            open: BTreeMap::new(),
            by_key: HashMap::new(),
            resolved: VecDeque::new(),
            silences: Vec::new(),
            next_id: max_alert_id + 1,
            next_silence_id: 1,
            changes: Vec::new(),
            storage_error: None,
            recovery_note: None,
            daemon_notes: BTreeMap::new(),
        }
    }

    /// The trend detector's last fit for `seat`, with its explanation.
    pub fn prediction(&self, seat: SeatId) -> Option<crate::detect::trend::Prediction> {
        self.seats.get(&seat).and_then(|w| w.trend.prediction().copied())
    }

    /// Changes since the last call, in order.
    pub fn drain(&mut self) -> Vec<AlertChange> {
        std::mem::take(&mut self.changes)
    }

    /// The status the open alerts give a seat (`None`: no alert about it).
    pub fn status(&self, seat: SeatId) -> Option<SeatStatus> {
        let line_down = self
            .seats
            .get(&seat)
            .and_then(|w| w.line())
            .and_then(|l| self.lines.get(l))
            .filter(|l| l.alert_open)
            .map(|_| SeatStatus::Silent);
        if self.by_key.is_empty() {
            // The common case, on every frame: nothing open anywhere.
            return line_down;
        }
        Kind::ALL
            .into_iter()
            .filter_map(|k| {
                let id = self.by_key.get(&(k, Subject::Seat(seat)))?;
                let open = self.open.get(id)?;
                (open.view.state == AlertState::Firing || k.shows_while_pending())
                    .then(|| k.seat_status())
                    .flatten()
            })
            .chain(line_down)
            .max()
    }

    /// Seats of a line (for the state task to refresh their status on a line change).
    pub fn line_seats(&self, line: &str) -> &[SeatId] {
        self.lines.get(line).map(|l| l.seats.as_slice()).unwrap_or(&[])
    }

    /// Open alerts and the recently resolved ones, for a fresh view.
    pub fn alerts(&self) -> impl Iterator<Item = &AlertView> {
        self.open.values().map(|o| &o.view).chain(self.resolved.iter())
    }

    /// The rules of a seat.
    pub fn rules(&self, seat: SeatId) -> Option<&SeatRules> {
        self.seats.get(&seat).map(|w| &w.rules)
    }
}

impl std::fmt::Debug for AlertEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertEngine")
            .field("seats", &self.seats.len())
            .field("open", &self.open.len())
            .finish()
    }
}

#[cfg(test)]
mod tests;
