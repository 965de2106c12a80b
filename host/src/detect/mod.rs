//! Detectors: pure, synchronous functions of a seat's samples and of time, one file per
//! question. They never read a clock, never log, never allocate per sample; the alert engine
//! ([`crate::alert`]) turns what they say into alerts with a lifecycle.
//!
//! - [`trend`]: will this seat reach its critical temperature, and surely enough to fail it
//!   over? (a first-order fit of 10-s medians with its uncertainty: an early warning, and a
//!   failover order only when the asymptote's lower bound is above critical)
//! - `traces` (tests and benches only): generated thermal traces with their truth
//! - [`tier`]: has the filtered temperature held at a warn, critical or emergency level long
//!   enough to say so (and back under long enough to stop)? The tiers hardware managers name:
//!   IPMI's thresholds, hwmon's `_max`/`_crit`/`_emergency`, Redfish's caution/critical/fatal
//! - [`sensor`]: can this seat's temperature be trusted at all? (its own fault flag, readings
//!   outside the sensor's range, a sensor stuck on one value)
//! - [`silent`]: has this seat, or a whole line, stopped talking?
//!
//! Every detector answers with a [`Signal`], already debounced (persistence before raising,
//! hysteresis before clearing), so the engine only maps signals to alert states.

pub mod sensor;
pub mod silent;
pub mod tamper;
pub mod tier;
/// Generated thermal traces with their truth (the quality bench's and the tests' material).
#[cfg(any(test, feature = "test-support"))]
pub mod traces;
pub mod trend;
mod window;

pub use window::Window;

use hemiwatch_protocol::SeatId;
use tier::TierRules;

/// What a detector says about its question right now.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Signal {
    /// Nothing wrong (or no longer wrong, after the detector's hysteresis).
    Clear,
    /// Something looks wrong but is not confirmed yet: the alert exists as `pending`.
    Pending,
    /// Confirmed: the alert fires.
    Firing,
}

/// Everything the detectors need to know about one seat, from the config.
#[derive(Clone, Debug, PartialEq)]
pub struct SeatRules {
    /// Seat.
    pub seat: SeatId,
    /// Label, for alert summaries.
    pub label: String,
    /// Sector, for alert filtering and silences.
    pub sector: String,
    /// Configured line, if any (line_down inhibits this seat's seat_silent).
    pub line: Option<String>,
    /// Warn, critical and emergency levels and their dwells: what the tier machine runs with.
    pub tiers: TierRules,
    /// Predicted-overheat horizon, ms: alert when critical is expected sooner than this.
    pub horizon_ms: u64,
    /// Expected telemetry period, ms (a seat's `Hello` may announce another one).
    pub period_ms: u64,
}

impl SeatRules {
    /// Rules with the config's defaults ([`crate::config::defaults`]), for tools like `replay`
    /// that see seats without a config.
    pub fn defaults(seat: SeatId) -> Self {
        use crate::config::defaults::{DEFAULT_HORIZON, DEFAULT_PERIOD_MS};
        Self {
            seat,
            label: format!("seat {seat}"),
            sector: String::new(),
            line: None,
            tiers: TierRules::default(),
            horizon_ms: DEFAULT_HORIZON.as_millis() as u64,
            period_ms: DEFAULT_PERIOD_MS as u64,
        }
    }

    /// Critical level, °C: the critical tier's trip level, and the temperature the prediction
    /// aims at.
    pub fn critical_c(&self) -> f64 {
        self.tiers.critical.trip_c
    }
}

/// One telemetry sample as the detectors see it: the console's channel (0) and the flags.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample {
    /// Unix ms it arrived (or, in replay, the recorded time).
    pub t_ms: u64,
    /// The console's temperature (channel 0), °C; `None` when the frame carried none.
    pub temp_c: Option<f64>,
    /// The seat's own status flags (bits of [`hemiwatch_protocol::Flags`]).
    pub flags: u8,
}

impl Sample {
    /// From a verified telemetry frame.
    pub fn from_telemetry(t_ms: u64, t: &hemiwatch_protocol::Telemetry) -> Self {
        Self {
            t_ms,
            temp_c: t.console().map(|c| f64::from(c) / 100.0),
            flags: t.flags.bits(),
        }
    }
}

#[cfg(test)]
mod channel_tests {
    use hemiwatch_protocol::Telemetry;

    use super::Sample;

    /// The detectors see the console's sensor (channel 0): a hot MCU die (channel 1) is not an
    /// overheating console.
    #[test]
    fn detectors_see_the_console_channel_not_the_die() {
        let mut t = Telemetry::default();
        t.temps.extend_from_slice(&[2_500, 9_000]).unwrap();
        assert_eq!(Sample::from_telemetry(0, &t).temp_c, Some(25.0));
    }
}
