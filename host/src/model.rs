//! The daemon's live picture of the hemicycle: what the dashboard, the API and `hemiwatch status`
//! show. One writer (the daemon's state task) updates it and publishes each change on a broadcast
//! channel; readers take snapshots. Kept apart from ingest and HTTP so both depend on it, not on
//! each other.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use hemiwatch_protocol::SeatId;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, mpsc, oneshot};

use crate::alert::{AlertState, EventKind, Kind};

/// What a technician needs to know about a seat at a glance; the dashboard colours by it.
/// Ordered from least to most urgent, so the worst state of a group is its maximum.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SeatStatus {
    /// Configured but never heard since the daemon started.
    Unknown,
    /// Talking, temperature under the warn threshold.
    Ok,
    /// The warn tier stands: the filtered temperature held at or above the warn level for the
    /// dwell (`temperature_warn`).
    Warm,
    /// The seat is in failover (safe mode): its standby votes.
    FailoverActive,
    /// The seat's sensor is faulty: its temperature cannot be trusted (never an overheat).
    SensorFault,
    /// Hemiwatch predicts the critical temperature within the horizon: switch to the standby now.
    OverheatPredicted,
    /// The critical tier stands: the filtered temperature held at or above critical (`overheat`);
    /// the seat is failed over.
    Overheat,
    /// The seat stopped talking.
    Silent,
    /// The emergency tier stands (`overheat_emergency`): past the parts' absolute limit although
    /// failed over. The most urgent status: a seat that then goes silent still shows it, since
    /// the last thing known of it is that it was past its limit, until it is seen to cool.
    OverheatEmergency,
}

impl SeatStatus {
    /// Every status, in legend order.
    pub const ALL: [SeatStatus; 9] = [
        Self::Ok,
        Self::Warm,
        Self::OverheatPredicted,
        Self::Overheat,
        Self::OverheatEmergency,
        Self::Silent,
        Self::FailoverActive,
        Self::SensorFault,
        Self::Unknown,
    ];

    /// Stable snake_case name (the serde name), for metric labels and CSS classes.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Ok => "ok",
            Self::Warm => "warm",
            Self::FailoverActive => "failover_active",
            Self::SensorFault => "sensor_fault",
            Self::OverheatPredicted => "overheat_predicted",
            Self::Overheat => "overheat",
            Self::Silent => "silent",
            Self::OverheatEmergency => "overheat_emergency",
        }
    }
}

/// Where a seat sits and what it is called: from the config, never from the wire.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeatPlace {
    /// Seat number (its wire address).
    pub id: SeatId,
    /// Human label, e.g. "B-04-12".
    pub label: String,
    /// Sector of the hemicycle.
    pub sector: String,
    /// Concentric row, 1 = innermost.
    pub row: u16,
    /// Index along the row.
    pub position: u16,
    /// Serial line configured for the seat, if any.
    pub line: Option<String>,
}

/// Per-seat link counters: how much arrived, and how much was refused and why.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SeatCounters {
    /// Frames verified and accepted.
    pub frames: u64,
    /// Frames lost on the way (gaps in the reconstructed counter).
    pub lost: u64,
    /// Frames refused because their MAC did not verify.
    pub bad_mac: u64,
    /// Frames refused as replays.
    pub replays: u64,
    /// Other refusals (no session, unauthenticated, bad payload…).
    pub rejected: u64,
    /// Reboots seen (new boot identity).
    pub reboots: u64,
}

/// Everything the daemon knows about one seat right now.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeatState {
    /// Configured placement.
    #[serde(flatten)]
    pub place: SeatPlace,
    /// Current status (derived from alerts, flags and thresholds by the daemon).
    pub status: SeatStatus,
    /// Last temperatures in °C, one per channel.
    pub temps_c: Vec<f64>,
    /// The console's temperature (channel 0, `Telemetry::console`), °C: what the dashboard
    /// colours, the chart draws and the metrics export, computed once on the server so every view
    /// agrees. (The name predates the die channel: the MCU's die, channel 1, is in `temps_c` only.)
    #[serde(default)]
    pub hottest_c: Option<f64>,
    /// Last supply voltage in mV.
    pub supply_mv: Option<u16>,
    /// Last status flags, by name.
    pub flags: Vec<String>,
    /// Unix time in ms of the last verified frame.
    pub last_seen_ms: Option<u64>,
    /// Minutes since the seat booted, as it reported.
    pub uptime_min: Option<u32>,
    /// Boot identity of the current session.
    pub boot_id: Option<u32>,
    /// Firmware version from the last `Hello`, "major.minor.patch".
    pub firmware: Option<String>,
    /// Protocol version from the last `Hello`, "major.minor".
    pub protocol: Option<String>,
    /// Board kind from the last `Hello`.
    pub board: Option<String>,
    /// Telemetry period in ms the seat announced.
    pub period_ms: Option<u16>,
    /// Serial line the seat was last heard on.
    pub heard_on: Option<String>,
    /// Link counters.
    pub counters: SeatCounters,
}

impl SeatState {
    /// A configured seat never heard yet.
    pub fn new(place: SeatPlace) -> Self {
        Self {
            place,
            status: SeatStatus::Unknown,
            temps_c: Vec::new(),
            hottest_c: None,
            supply_mv: None,
            flags: Vec::new(),
            last_seen_ms: None,
            uptime_min: None,
            boot_id: None,
            firmware: None,
            protocol: None,
            board: None,
            period_ms: None,
            heard_on: None,
            counters: SeatCounters::default(),
        }
    }
}

/// An alert as the API and dashboard show it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AlertView {
    /// Stable id (SQLite row id).
    pub id: i64,
    /// What the alert is about (serialized as its stable name).
    pub kind: Kind,
    /// Seat concerned, if the alert is about a seat.
    pub seat: Option<SeatId>,
    /// Line concerned, if the alert is about a line.
    pub line: Option<String>,
    /// Sector of the seat, for filtering.
    pub sector: Option<String>,
    /// Where it is in its lifecycle (serialized as `pending`, `firing` or `resolved`).
    pub state: AlertState,
    /// Unix ms when it started.
    pub started_at_ms: u64,
    /// Unix ms of the last state change.
    pub updated_at_ms: u64,
    /// Predicted time the seat crosses critical, for overheat_predicted.
    pub predicted_critical_at_ms: Option<u64>,
    /// One sentence for the technician.
    pub summary: String,
    /// Who acknowledged it, when and why.
    pub ack: Option<AckView>,
    /// True while a silence matches it.
    pub silenced: bool,
}

/// An acknowledgement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AckView {
    /// Who acknowledged.
    pub by: String,
    /// Unix ms.
    pub at_ms: u64,
    /// Free comment.
    pub comment: String,
}

/// A change pushed to live views (dashboard SSE, tests).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Update {
    /// A seat's state changed (status, temperature, counters…).
    Seat(Box<SeatState>),
    /// An alert was raised, changed state, or was acknowledged/silenced.
    Alert(Box<AlertView>),
}

/// The live model: every configured seat by id, plus the open and recent alerts.
#[derive(Clone, Debug, Default)]
pub struct Hemicycle {
    /// Seats by id.
    pub seats: BTreeMap<SeatId, SeatState>,
    /// Open alerts and the ones resolved recently, by id.
    pub alerts: BTreeMap<i64, AlertView>,
}

impl Hemicycle {
    /// Seat count per status, for the legend and the metrics.
    pub fn counts(&self) -> BTreeMap<SeatStatus, usize> {
        let mut counts: BTreeMap<SeatStatus, usize> = SeatStatus::ALL.iter().map(|s| (*s, 0)).collect();
        for seat in self.seats.values() {
            *counts.entry(seat.status).or_default() += 1;
        }
        counts
    }
}

/// Requests from the API to the daemon's state task, each answered on its own oneshot.
#[derive(Debug)]
pub enum Request {
    /// Acknowledge an alert.
    Ack {
        /// Alert id.
        id: i64,
        /// Who.
        by: String,
        /// Why.
        comment: String,
        /// Answer: the updated alert, or why not.
        reply: oneshot::Sender<Result<Written<AlertView>, RequestError>>,
    },
    /// Silence matching alerts until a time.
    Silence {
        /// What to silence.
        matcher: SilenceMatcher,
        /// Unix ms when the silence expires.
        until_ms: u64,
        /// Who.
        by: String,
        /// Why.
        comment: String,
        /// Answer: the silence id.
        reply: oneshot::Sender<Result<Written<i64>, RequestError>>,
    },
}

/// A write's answer and whether what it changed is on disk: `false` while storage fails (the
/// change is applied and kept in memory, written once writes succeed), so the API answers
/// 202 Accepted instead of claiming a commit that did not happen.
#[derive(Clone, Debug, PartialEq)]
pub struct Written<T> {
    /// The answer.
    pub value: T,
    /// Committed to the database before the answer was sent.
    pub committed: bool,
}

/// Which alerts a silence covers; absent fields match everything.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SilenceMatcher {
    /// One seat.
    pub seat: Option<SeatId>,
    /// One alert kind.
    pub kind: Option<String>,
    /// One sector.
    pub sector: Option<String>,
}

/// Why the daemon refused an API request.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RequestError {
    /// No such alert.
    #[error("no alert with id {0}")]
    NoSuchAlert(i64),
    /// The request is not valid (the message says why).
    #[error("{0}")]
    Invalid(String),
    /// The daemon is shutting down or its state task is gone.
    #[error("the daemon is not accepting requests")]
    Unavailable,
}

/// Shared handles to the live model, given to the HTTP server and anything else that reads it.
#[derive(Clone)]
pub struct LiveModel {
    /// The model; the daemon's state task is the only writer.
    pub model: Arc<RwLock<Hemicycle>>,
    /// Every change, for SSE clients.
    pub updates: broadcast::Sender<Update>,
    /// Requests to the state task (acks, silences).
    pub requests: mpsc::Sender<Request>,
}

/// One point of a seat's temperature history: a raw sample (min = mean = max) or a 1-minute
/// rollup, so the chart code draws both the same way.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HistoryPoint {
    /// Unix ms of the sample, or of the start of the minute.
    pub t_ms: u64,
    /// Mean temperature over the point, °C (the console's channel).
    pub mean_c: f64,
    /// Minimum, °C.
    pub min_c: f64,
    /// Maximum, °C.
    pub max_c: f64,
}

/// Something that happened to a seat or a line (boot, reboot, line up/down, seat event codes),
/// as stored and shown in a seat's panel.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventView {
    /// Unix ms.
    pub at_ms: u64,
    /// Seat concerned, if any.
    pub seat: Option<SeatId>,
    /// Line concerned, if any.
    pub line: Option<String>,
    /// What happened (serialized as its stable name: seat_booted, line_down…).
    pub kind: EventKind,
    /// Human detail.
    pub detail: String,
}
