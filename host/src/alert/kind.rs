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
//! The temperature tiers ([`Tier`]) are three kinds, [`Kind::of_tier`]: `temperature_warn`
//! (warning), `overheat` (critical, orders the failover) and `overheat_emergency` (emergency,
//! orders it too). They nest — a seat at emergency is at critical and warn as well — so a higher
//! tier firing holds back the notifications of the lower ones on the same seat
//! ([`Kind::inhibited_by`]): a seat that jumps to emergency pages once, not three times, and a
//! lower tier still firing when the higher one resolves notifies then, as a silenced alert does
//! when its silence ends. A rise through the tiers notifies each one as it comes: each says
//! something new.
//!
//! Kinds about the daemon itself (`storage_failing`, `storage_recovered`, `daemon_stalled`,
//! `storage_backlog`, `sink_failing`) have no seat and no line: their [`Kind::seat_status`] is `None`, the engine
//! keys them by the daemon, the state task feeds them (`AlertEngine::on_storage`,
//! `on_daemon_health`, `on_storage_recovered`), and the dashboard shows them as a banner.

use std::fmt;

use hemiwatch_protocol::FaultCode;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::detect::tier::Tier;
use crate::model::SeatStatus;

/// What an alert is about; one open alert per kind and subject.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// The trend detector predicts the critical temperature within the seat's horizon.
    OverheatPredicted,
    /// The filtered temperature held at or above critical for the dwell: the critical tier
    /// (hwmon `tempN_crit`, IPMI upper critical, Redfish `UpperCritical`).
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
    /// Frames failing their MAC or replayed keep arriving on a line: a masquerade attempt (or a
    /// seat with the wrong key). A security event, not only a counter.
    LinkTampering,
    /// An alert sink failed several deliveries in a row: notifications wait in the outbox.
    SinkFailing,
    /// The filtered temperature held at or above the warn level for the dwell: the warn tier
    /// (hwmon `tempN_max`, IPMI upper non-critical, Redfish `UpperCaution`). Worth a look; the
    /// seat keeps voting.
    TemperatureWarn,
    /// The filtered temperature held at or above the emergency level for the dwell: the emergency
    /// tier (hwmon `tempN_emergency`, IPMI upper non-recoverable, Redfish `UpperFatal`). Past the
    /// parts' absolute limit although the failover cut the console's load: cut the seat's power.
    OverheatEmergency,
}

impl Kind {
    /// Every kind, in the order the engine ranks a seat's status and metrics export them.
    pub const ALL: [Kind; 14] = [
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
        Self::LinkTampering,
        Self::SinkFailing,
        Self::TemperatureWarn,
        Self::OverheatEmergency,
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
            Self::LinkTampering => "link_tampering",
            Self::SinkFailing => "sink_failing",
            Self::TemperatureWarn => "temperature_warn",
            Self::OverheatEmergency => "overheat_emergency",
        }
    }

    /// Parses a stable name (user input: a silence matcher, an API filter).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// How urgently the on-call technician must act (the Alertmanager `severity` label).
    pub const fn severity(self) -> Severity {
        match self {
            // Beyond the parts' absolute limit after the failover: a person must act at once.
            Self::OverheatEmergency => Severity::Emergency,
            // A monitor that runs late may see an overheat too late.
            // Hidden telemetry hides exactly an overheat; tampering is an attack on the vote.
            Self::OverheatPredicted
            | Self::Overheat
            | Self::LineDown
            | Self::DaemonStalled
            | Self::TelemetryMissing
            | Self::LinkTampering => Severity::Critical,
            // The room is still watched and paged about; its history is not kept.
            Self::SeatSilent
            | Self::SensorFault
            | Self::StorageFailing
            | Self::StorageRecovered
            | Self::StorageBacklog
            | Self::SinkFailing
            | Self::TemperatureWarn => Severity::Warning,
        }
    }

    /// The seat status an open alert of this kind implies (`None`: the kind is about the
    /// daemon itself and colours no seat).
    pub const fn seat_status(self) -> Option<SeatStatus> {
        match self {
            Self::OverheatPredicted => Some(SeatStatus::OverheatPredicted),
            Self::Overheat => Some(SeatStatus::Overheat),
            Self::TemperatureWarn => Some(SeatStatus::Warm),
            Self::OverheatEmergency => Some(SeatStatus::OverheatEmergency),
            Self::SeatSilent | Self::LineDown | Self::TelemetryMissing => Some(SeatStatus::Silent),
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
    /// ([`crate::detect::trend::FailoverOrder`]). The emergency tier orders it too: it stands
    /// above critical, and must keep the seat failed over on its own (restored alone after a
    /// restart, say); the daemon orders a seat once while its failover is wanted.
    pub const fn orders_failover(self) -> bool {
        matches!(self, Self::Overheat | Self::OverheatEmergency)
    }

    /// The kind of a temperature tier's alert.
    pub const fn of_tier(tier: Tier) -> Kind {
        match tier {
            Tier::Warn => Self::TemperatureWarn,
            Tier::Critical => Self::Overheat,
            Tier::Emergency => Self::OverheatEmergency,
        }
    }

    /// The temperature tier this kind reports, if it is one.
    pub const fn tier(self) -> Option<Tier> {
        match self {
            Self::TemperatureWarn => Some(Tier::Warn),
            Self::Overheat => Some(Tier::Critical),
            Self::OverheatEmergency => Some(Tier::Emergency),
            Self::OverheatPredicted
            | Self::SeatSilent
            | Self::SensorFault
            | Self::LineDown
            | Self::StorageFailing
            | Self::StorageRecovered
            | Self::DaemonStalled
            | Self::StorageBacklog
            | Self::TelemetryMissing
            | Self::LinkTampering
            | Self::SinkFailing => None,
        }
    }

    /// Whether a firing alert of `other` about the same seat holds back this kind's
    /// notifications: a higher temperature tier stands for the lower ones (see the module docs).
    /// The alert itself still opens, shows and acts.
    pub fn inhibited_by(self, other: Kind) -> bool {
        matches!((self.tier(), other.tier()), (Some(mine), Some(theirs)) if theirs > mine)
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

/// How urgent an alert is, for the sinks that grade alerts. Ordered from the least urgent.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Look at it soon: the seat is not heard or not measured, the vote is not at risk yet.
    Warning,
    /// Act now: a seat is overheating or a whole line is gone.
    Critical,
    /// Act at once, in person: a seat is past its parts' absolute limit although it was failed
    /// over (hwmon's `_emergency`, Redfish's `Fatal`, syslog's `emerg`). Route it to whoever can
    /// cut a seat's power; an Alertmanager route matching only `severity="critical"` misses it.
    Emergency,
}

impl Severity {
    /// The stable name (the Alertmanager `severity` label).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Warning => "warning",
            Self::Critical => "critical",
            Self::Emergency => "emergency",
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
    fn the_tiers_map_to_their_kinds_and_a_higher_tier_inhibits_the_lower_ones() {
        for t in Tier::ALL {
            assert_eq!(Kind::of_tier(t).tier(), Some(t));
        }
        assert_eq!(Kind::ALL.iter().filter(|k| k.tier().is_some()).count(), 3);
        assert_eq!(Kind::TemperatureWarn.severity(), Severity::Warning);
        assert_eq!(Kind::Overheat.severity(), Severity::Critical);
        assert_eq!(Kind::OverheatEmergency.severity(), Severity::Emergency);
        assert!(Severity::Emergency > Severity::Critical && Severity::Critical > Severity::Warning);
        assert!(!Kind::TemperatureWarn.orders_failover());
        assert!(Kind::Overheat.orders_failover() && Kind::OverheatEmergency.orders_failover());
        assert!(Kind::TemperatureWarn.inhibited_by(Kind::Overheat));
        assert!(Kind::TemperatureWarn.inhibited_by(Kind::OverheatEmergency));
        assert!(Kind::Overheat.inhibited_by(Kind::OverheatEmergency));
        assert!(!Kind::OverheatEmergency.inhibited_by(Kind::Overheat));
        assert!(!Kind::Overheat.inhibited_by(Kind::Overheat));
        assert!(!Kind::Overheat.inhibited_by(Kind::OverheatPredicted));
        assert!(!Kind::SeatSilent.inhibited_by(Kind::OverheatEmergency));
        assert_eq!(
            Kind::OverheatEmergency.seat_status(),
            Some(SeatStatus::OverheatEmergency)
        );
        assert_eq!(Kind::TemperatureWarn.seat_status(), Some(SeatStatus::Warm));
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
