//! The alert and event vocabulary: which alerts exist, how urgent each is, what it says about its
//! seat and whether it orders a failover; what an alert's lifecycle states are; and which events
//! a seat or a line can record. Every other part (engine, model, API, metrics, sinks, storage,
//! replay) takes these facts from here, so a new alert kind is a change to this file and to the
//! detector that raises it.
//!
//! The serde names are the stable names the API, SQLite, the webhook payloads and the metric
//! labels have always used (`overheat_predicted`, `firing`, `line_down`…).
//!
//! Adding an alert kind: a [`Kind`] variant here (with its arm in each method below; `ALL` grows
//! by one), the detector under `detect/`, and its wiring in `alert/watch.rs` (a field of
//! `SeatWatch`, the `set` call that feeds its signal, the `hold_episode` arm). Metrics, the API,
//! the sinks' severity and storage follow from here; `alert/summary.rs` gives it a generic
//! sentence until it is given its own.
//!
//! Kinds about the daemon itself (`storage_failing`, `storage_recovered`, `daemon_stalled`,
//! `storage_backlog`, `sink_failing`) have no seat and no line: their [`Kind::seat_status`] is `None`, the engine
//! keys them by the daemon, the state task feeds them (`AlertEngine::on_storage`,
//! `on_daemon_health`, `on_storage_recovered`), and the dashboard shows them as a banner.

use std::fmt;

use hemiwatch_protocol::FaultCode;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::SeatStatus;

/// What an alert is about; one open alert per kind and subject.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The trend detector predicts the critical temperature within the seat's horizon.
    OverheatPredicted,
    /// The filtered temperature reached critical.
    Overheat,
    /// The seat stopped talking.
    SeatSilent,
    /// The seat's temperature cannot be trusted.
    SensorFault,
    /// A whole line is down.
    LineDown,
    /// The daemon cannot write its database (disk full, I/O error): history is not kept and
    /// notifications are held in memory. About the daemon itself, not a seat.
    StorageFailing,
    /// The database could not be opened at start-up and was replaced by a fresh one: part of the
    /// history may be lost. Stands until someone acknowledges it.
    StorageRecovered,
    /// The daemon's own state task ran late (an overloaded host, a paused VM): silence checks
    /// were held back and every judgement was delayed.
    DaemonStalled,
    /// The storage writer's queue keeps growing: the disk is slower than the room.
    StorageBacklog,
    /// The seat's other frames (acks, events) verify but its telemetry does not arrive: someone
    /// on the line may be dropping exactly the frames that would show it heating. Its last
    /// reading is stale; the seat is never "ok" meanwhile.
    TelemetryMissing,
    /// The seat's frames verify but arrive late: the line offered it more turns than its
    /// authenticated counter says it answered, and it reported no missed turns — someone on
    /// the path holds its frames back, which flattens the slope the predictor sees
    /// ([`crate::ingest::TurnBook`]). Its readings are stale; the seat is never "ok" meanwhile.
    TelemetryDelayed,
    /// Frames failing their MAC or replayed keep arriving on a line: a masquerade attempt (or a
    /// seat with the wrong key). A security event, not only a counter.
    LinkTampering,
    /// An alert sink failed several deliveries in a row: notifications wait in the outbox.
    SinkFailing,
}

impl Kind {
    /// Every kind, in the order the engine ranks a seat's status and metrics export them.
    pub const ALL: [Kind; 13] = [
        Self::OverheatPredicted,
        Self::Overheat,
        Self::SeatSilent,
        Self::SensorFault,
        Self::LineDown,
        Self::StorageFailing,
        Self::StorageRecovered,
        Self::DaemonStalled,
        Self::StorageBacklog,
        Self::TelemetryMissing,
        Self::TelemetryDelayed,
        Self::LinkTampering,
        Self::SinkFailing,
    ];

    /// The stable name used in the API, storage, metrics and sinks (the serde name).
    pub const fn name(self) -> &'static str {
        match self {
            Self::OverheatPredicted => "overheat_predicted",
            Self::Overheat => "overheat",
            Self::SeatSilent => "seat_silent",
            Self::SensorFault => "sensor_fault",
            Self::LineDown => "line_down",
            Self::StorageFailing => "storage_failing",
            Self::StorageRecovered => "storage_recovered",
            Self::DaemonStalled => "daemon_stalled",
            Self::StorageBacklog => "storage_backlog",
            Self::TelemetryMissing => "telemetry_missing",
            Self::TelemetryDelayed => "telemetry_delayed",
            Self::LinkTampering => "link_tampering",
            Self::SinkFailing => "sink_failing",
        }
    }

    /// Parses a stable name (user input: a silence matcher, an API filter).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// How urgently the on-call technician must act (the Alertmanager `severity` label).
    pub const fn severity(self) -> Severity {
        match self {
            // A monitor that runs late may see an overheat too late.
            // Hidden telemetry hides exactly an overheat; tampering is an attack on the vote.
            Self::OverheatPredicted
            | Self::Overheat
            | Self::LineDown
            | Self::DaemonStalled
            | Self::TelemetryMissing
            | Self::TelemetryDelayed
            | Self::LinkTampering => Severity::Critical,
            // The room is still watched and paged about; its history is not kept.
            Self::SeatSilent
            | Self::SensorFault
            | Self::StorageFailing
            | Self::StorageRecovered
            | Self::StorageBacklog
            | Self::SinkFailing => Severity::Warning,
        }
    }

    /// The seat status an open alert of this kind implies (`None`: the kind is about the
    /// daemon itself and colours no seat).
    pub const fn seat_status(self) -> Option<SeatStatus> {
        match self {
            Self::OverheatPredicted => Some(SeatStatus::OverheatPredicted),
            Self::Overheat => Some(SeatStatus::Overheat),
            Self::SeatSilent | Self::LineDown | Self::TelemetryMissing | Self::TelemetryDelayed => {
                Some(SeatStatus::Silent)
            }
            Self::SensorFault => Some(SeatStatus::SensorFault),
            // A line under attack is shown on the line; its seats keep what their own frames say.
            Self::StorageFailing
            | Self::StorageRecovered
            | Self::DaemonStalled
            | Self::StorageBacklog
            | Self::LinkTampering
            | Self::SinkFailing => None,
        }
    }

    /// Whether firing orders the seat's failover (even when silenced: a silence mutes
    /// notifications, not safety). A prediction does not: it is the technicians' early warning,
    /// and the failover on a prediction is the trend detector's own confident second stage
    /// ([`crate::detect::trend::FailoverOrder`]).
    pub const fn orders_failover(self) -> bool {
        matches!(self, Self::Overheat)
    }

    /// Whether acknowledging the alert resolves it: nothing will clear it on its own (a loss
    /// that happened), so "I have seen it" is its end.
    pub const fn resolved_by_ack(self) -> bool {
        matches!(self, Self::StorageRecovered)
    }

    /// Whether an open alert shows on its seat while still pending: a prediction shows once it
    /// fires, a silent seat at once (the 2.5-period bound).
    pub const fn shows_while_pending(self) -> bool {
        matches!(self, Self::SeatSilent | Self::TelemetryMissing)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How urgent an alert is, for the sinks that grade alerts.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Look at it soon: the seat is not heard or not measured, the vote is not at risk yet.
    Warning,
    /// Act now: a seat is overheating or a whole line is gone.
    Critical,
}

impl Severity {
    /// The stable name (the Alertmanager `severity` label).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Warning => "warning",
            Self::Critical => "critical",
        }
    }
}

/// Where an alert is in its lifecycle: `pending` → `firing` → `resolved` (or straight to
/// `resolved` when a pending alert clears).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    /// Raised, not yet confirmed (a prediction inside its hold time).
    Pending,
    /// Confirmed: acts (failover) and notifies.
    Firing,
    /// Over; kept for the views and the history.
    Resolved,
}

impl AlertState {
    /// Every state.
    pub const ALL: [AlertState; 3] = [Self::Pending, Self::Firing, Self::Resolved];

    /// The stable name (the serde name).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Firing => "firing",
            Self::Resolved => "resolved",
        }
    }

    /// Parses a stable name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Pending or firing: the alert still stands.
    pub const fn is_open(self) -> bool {
        !matches!(self, Self::Resolved)
    }
}

impl fmt::Display for AlertState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Something that happened to a seat or a line, as recorded in storage and shown in a seat's
/// panel. Distinct from [`Kind`]: a line going down is an event at once and a `line_down` alert
/// only once the line stays down.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// A line's port opened.
    LineUp,
    /// A line's port closed or failed.
    LineDown,
    /// A seat opened its first session since the daemon knows it.
    SeatBooted,
    /// A seat came back with a new boot identity.
    SeatRebooted,
    /// The daemon ordered a seat into failover.
    FailoverOrdered,
    /// The seat answered a failover order.
    FailoverAcked,
    /// The host's wall clock stepped against the monotonic clock detection runs on.
    ClockStepped,
    /// The host closed a seat's session to force a new handshake (bad MACs, no telemetry).
    SessionReset,
    /// The seat reported one of its own event codes (named by the protocol, or `seat_event`
    /// for a code this host does not know).
    Seat(FaultCode),
}

impl EventKind {
    /// The kinds the host itself records (the seat's own codes come from the protocol).
    const HOST: [EventKind; 8] = [
        Self::LineUp,
        Self::LineDown,
        Self::SeatBooted,
        Self::SeatRebooted,
        Self::FailoverOrdered,
        Self::FailoverAcked,
        Self::ClockStepped,
        Self::SessionReset,
    ];

    /// Name of a seat code the host does not know.
    const UNKNOWN_SEAT_CODE: &'static str = "seat_event";

    /// The stable name stored in SQLite and sent to the API.
    pub fn name(self) -> &'static str {
        match self {
            Self::LineUp => "line_up",
            Self::LineDown => "line_down",
            Self::SeatBooted => "seat_booted",
            Self::SeatRebooted => "seat_rebooted",
            Self::FailoverOrdered => "failover_ordered",
            Self::FailoverAcked => "failover_acked",
            Self::ClockStepped => "clock_stepped",
            Self::SessionReset => "session_reset",
            Self::Seat(code) => code.name().unwrap_or(Self::UNKNOWN_SEAT_CODE),
        }
    }

    /// Parses a stored name; a name nobody knows reads as an unknown seat code (the stored
    /// `seat_event`), so an old database never fails a read.
    pub fn from_name(name: &str) -> Self {
        Self::HOST
            .into_iter()
            .find(|k| k.name() == name)
            .or_else(|| {
                (0..=u8::MAX)
                    .map(FaultCode)
                    .find(|c| c.name() == Some(name))
                    .map(Self::Seat)
            })
            .unwrap_or(Self::Seat(FaultCode(0)))
    }
}

impl fmt::Display for EventKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for EventKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for EventKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(d)?;
        Ok(Self::from_name(&name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serde_names_are_the_stable_names() {
        for k in Kind::ALL {
            assert_eq!(serde_json::to_value(k).unwrap(), k.name());
            assert_eq!(Kind::from_name(k.name()), Some(k));
        }
        for s in AlertState::ALL {
            assert_eq!(serde_json::to_value(s).unwrap(), s.name());
            assert_eq!(AlertState::from_name(s.name()), Some(s));
        }
    }

    #[test]
    fn event_kinds_round_trip_through_their_names() {
        let kinds = EventKind::HOST.into_iter().chain(
            (0..=u8::MAX)
                .map(|c| EventKind::Seat(FaultCode(c)))
                .filter(|k| k.name() != "seat_event"),
        );
        for k in kinds {
            assert_eq!(serde_json::to_value(k).unwrap(), k.name());
            assert_eq!(EventKind::from_name(k.name()), k);
        }
        assert_eq!(EventKind::from_name("seat_event").name(), "seat_event");
        assert_ne!(EventKind::LineDown.name(), "");
    }
}
