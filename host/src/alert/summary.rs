//! The one sentence each alert carries for the technician: what is wrong, with the numbers that
//! say how badly, and what to do.
//!
//! A seat the engine does not know is described with the configuration defaults (levels,
//! telemetry period).

use super::{AlertEngine, Kind, Subject};
use crate::config::defaults::{DEFAULT_CRITICAL_C, DEFAULT_PERIOD_MS};
use crate::detect::tier::TierRules;

impl AlertEngine {
    /// The summary of the alert of `kind` about `subject`, as of `now_ms`.
    pub(super) fn summary(&self, kind: Kind, subject: &Subject, now_ms: u64) -> String {
        let seat_name = |s: &hemiwatch_protocol::SeatId| {
            self.seats
                .get(s)
                .map(|w| format!("{} (seat {s})", w.rules.label))
                .unwrap_or_else(|| format!("seat {s}"))
        };
        // A tier's sentence: the level now, the seat's tiers, the dwell in seconds.
        let tier_context = |s: &hemiwatch_protocol::SeatId| {
            let w = self.seats.get(s);
            let t = w.map_or_else(TierRules::default, |w| w.rules.tiers);
            let now = w.and_then(|w| w.window.level()).unwrap_or(f64::NAN);
            (now, t, t.dwell_ms as f64 / 1_000.0)
        };
        match (kind, subject) {
            (Kind::OverheatPredicted, Subject::Seat(s)) => {
                let w = self.seats.get(s);
                let critical = w.map_or(DEFAULT_CRITICAL_C, |w| w.rules.critical_c());
                let now = w.and_then(|w| w.window.level()).unwrap_or(f64::NAN);
                let slope = w.and_then(|w| w.trend.slope_c_per_min()).unwrap_or(f64::NAN);
                let eta = w
                    .and_then(|w| w.trend.predicted_at_ms())
                    .map(|t| t.saturating_sub(now_ms) / 1_000)
                    .unwrap_or(0);
                let secs = |t: Option<u64>| t.map(|t| t.saturating_sub(now_ms) / 1_000);
                let why = match w.and_then(|w| w.trend.prediction()) {
                    Some(p) => {
                        let range = match (secs(p.crossing_earliest_ms), secs(p.crossing_latest_ms)) {
                            (Some(a), Some(b)) => format!("{}–{} min", a / 60, b.div_ceil(60)),
                            (Some(a), None) => format!("{} min or never", a / 60),
                            _ => "unknown".into(),
                        };
                        let settles = if p.asymptote_c.best.is_finite() {
                            format!(
                                "settling toward {:.0} °C (at least {:.0}) with τ {:.0} min",
                                p.asymptote_c.best,
                                p.asymptote_c.lo,
                                p.tau_s.best / 60.0
                            )
                        } else {
                            "with no sign of settling".into()
                        };
                        format!("{} fit, {settles}; crossing in {range}", p.model.name().replace('_', "-"))
                    }
                    None => "no fit".into(),
                };
                format!(
                    "{} will reach its critical {critical:.1} °C in about {} min {} s (now {now:.1} °C, rising {slope:.1} °C/min; {why}): get a technician there",
                    seat_name(s),
                    eta / 60,
                    eta % 60
                )
            }
            (Kind::TemperatureWarn, Subject::Seat(s)) => {
                let (now, t, held) = tier_context(s);
                format!(
                    "{} has held {now:.1} °C, at or above its warn level {:.1} °C, for {held} s: worth a look before it nears its critical {:.1} °C (clears at {:.1} °C)",
                    seat_name(s),
                    t.warn.trip_c,
                    t.critical.trip_c,
                    t.warn.clear_c
                )
            }
            (Kind::Overheat, Subject::Seat(s)) => {
                let (now, t, held) = tier_context(s);
                format!(
                    "{} is at {now:.1} °C, at or above its critical {:.1} °C for {held} s: its failover to the standby is ordered; get a technician there (clears at {:.1} °C)",
                    seat_name(s),
                    t.critical.trip_c,
                    t.critical.clear_c
                )
            }
            (Kind::OverheatEmergency, Subject::Seat(s)) => {
                let (now, t, held) = tier_context(s);
                format!(
                    "{} is at {now:.1} °C, at or above its emergency level {:.1} °C for {held} s: beyond its parts' absolute limit although its failover was ordered; cut the seat's power now (clears at {:.1} °C)",
                    seat_name(s),
                    t.emergency.trip_c,
                    t.emergency.clear_c
                )
            }
            (Kind::SeatSilent, Subject::Seat(s)) => {
                let period = self
                    .seats
                    .get(s)
                    .map_or(DEFAULT_PERIOD_MS as u64, |w| w.rules.period_ms);
                format!(
                    "{} has stopped talking (telemetry period {period} ms)",
                    seat_name(s)
                )
            }
            (Kind::SensorFault, Subject::Seat(s)) => {
                let why = self
                    .seats
                    .get(s)
                    .and_then(|w| w.sensor.fault())
                    .map_or("sensor fault", |f| f.describe());
                format!("{}: {why}; its temperature is not trusted", seat_name(s))
            }
            (Kind::TelemetryMissing, Subject::Seat(s)) => {
                let w = self.seats.get(s);
                let since = w.map_or(0, |w| now_ms.saturating_sub(w.last_heard_ms) / 1_000);
                format!(
                    "{} answers but its telemetry has not arrived for {since} s: its last reading is stale and may hide a rising temperature (frames dropped on the line?); check the seat and its line",
                    seat_name(s)
                )
            }
            (Kind::LinkTampering, Subject::Line(l)) => {
                let n = self.lines.get(l).map_or(0, |l| l.tamper.total());
                format!(
                    "line {l} keeps carrying frames that fail their MAC or replay old ones ({n} so far): someone without the key is trying to speak for its seats, or a seat has the wrong key"
                )
            }
            (Kind::StorageFailing, _) => format!(
                "the daemon cannot write its database ({}): history is not kept and notifications are held in memory; free space on its disk",
                self.storage_error.as_deref().unwrap_or("unknown error")
            ),
            (Kind::StorageRecovered, _) => {
                let what = self.recovery_note.as_deref().unwrap_or("the database was replaced");
                format!("{what}; acknowledge once you have looked")
            }
            (Kind::DaemonStalled | Kind::StorageBacklog | Kind::SinkFailing, _) => self
                .daemon_notes
                .get(&kind)
                .cloned()
                .unwrap_or_else(|| format!("the daemon: {}", kind.name())),
            (_, Subject::Daemon) => format!("the daemon: {}", kind.name()),
            (_, Subject::Line(l)) => {
                let n = self.lines.get(l).map_or(0, |l| l.seats.len());
                format!("line {l} is down: none of its {n} seats can be heard")
            }
            (_, Subject::Seat(s)) => format!("{}: {}", seat_name(s), kind.name()),
        }
    }
}
