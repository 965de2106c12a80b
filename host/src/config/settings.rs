//! What the daemon runs, resolved from the config: lines, seats with their thresholds, storage,
//! HTTP and sinks. Lives with the config because the config is what builds it (files read,
//! defaults applied, thresholds layered); the daemon only consumes it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use hemiwatch_protocol::SeatKey;

use crate::model::SeatPlace;
use crate::source::Endpoint;

/// One line as the daemon runs it.
#[derive(Clone, Debug)]
pub struct LineSettings {
    /// Name from the config.
    pub name: String,
    /// Where to read.
    pub endpoint: Endpoint,
    /// Line rate, bit/s: the character time of the bus schedule (every kind of endpoint; a
    /// serial device is also opened at it).
    pub baud: u32,
    /// Jitter budget of the bus schedule, µs (`jitter_us`, default
    /// [`JITTER_NS`](hemiwatch_protocol::bus::JITTER_NS)): carried to the seats in every beacon.
    /// Raise it for lines whose nodes transmit late (ptys, QEMU, a loaded host).
    pub jitter_us: u16,
}

impl LineSettings {
    /// A line at the default baud rate and jitter budget (the endpoint's own rate for a serial
    /// device).
    pub fn new(name: impl Into<String>, endpoint: Endpoint) -> Self {
        let baud = match &endpoint {
            Endpoint::Serial { baud, .. } => *baud,
            _ => super::DEFAULT_BAUD,
        };
        Self {
            name: name.into(),
            endpoint,
            baud,
            jitter_us: DEFAULT_JITTER_US,
        }
    }
}

/// Default jitter budget of a line, µs: the hardware figure of the bus design.
pub const DEFAULT_JITTER_US: u16 = (hemiwatch_protocol::bus::JITTER_NS / 1_000) as u16;

/// One seat as the daemon runs it: placement, key, thresholds.
#[derive(Clone, Debug)]
pub struct SeatSettings {
    /// Placement and label.
    pub place: SeatPlace,
    /// Its key; `None` only for unauthenticated development seats.
    pub key: Option<SeatKey>,
    /// Warn, critical and emergency levels with their clear levels and dwells.
    pub tiers: crate::detect::tier::TierRules,
    /// Predicted-overheat horizon, seconds.
    pub horizon_s: u64,
    /// Expected telemetry period, ms (until the seat's Hello says otherwise).
    pub period_ms: u64,
}

impl SeatSettings {
    /// What the detectors need to know about this seat.
    pub fn rules(&self) -> crate::detect::SeatRules {
        crate::detect::SeatRules {
            seat: self.place.id,
            label: self.place.label.clone(),
            sector: self.place.sector.clone(),
            line: self.place.line.clone(),
            tiers: self.tiers,
            horizon_ms: self.horizon_s.saturating_mul(1000),
            period_ms: self.period_ms,
        }
    }
}

/// Everything `run` needs, resolved from the config (files read, defaults applied).
#[derive(Clone, Debug)]
pub struct Settings {
    /// Serial lines.
    pub lines: Vec<LineSettings>,
    /// Configured seats.
    pub seats: Vec<SeatSettings>,
    /// Where the HTTP server listens.
    pub http_bind: SocketAddr,
    /// Bearer token for API writes.
    pub api_token: Option<String>,
    /// SQLite file.
    pub database: PathBuf,
    /// Raw samples are kept this long, then only 1-minute rollups (default 24 h).
    pub raw_retention: Duration,
    /// 1-minute rollups are kept this long (default 90 days).
    pub rollup_retention: Duration,
    /// Buffered samples are committed at least this often: the documented loss window of a
    /// `kill -9` (default 1 s).
    pub flush_interval: Duration,
    /// Where alert notifications are delivered (through the outbox).
    pub sinks: Vec<crate::sink::NamedSink>,
}
