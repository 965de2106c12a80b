//! The defaults of every setting a config file may leave out, in one place: the config applies
//! them, and so do the tools that see seats without a config (`replay`, the CLI's API URL), so
//! that "what happens when nothing is said" has one answer.
//!
//! The embedded default (`default.toml`) spells the same values out for the reader; the tests
//! `defaults_apply_when_nothing_is_said` (a file that says nothing) and
//! `the_embedded_default_spells_out_the_defaults` keep the three in step.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use super::limits::SENSOR_MAX_C;

/// Default warn threshold, °C: a console this warm is worth a look but not yet in danger.
pub const DEFAULT_WARN_C: f64 = 70.0;
/// Default critical threshold, °C: the temperature the prediction aims at.
pub const DEFAULT_CRITICAL_C: f64 = 85.0;
/// Default hysteresis of every tier, °C: a tier whose `*_clear_c` is not given clears at its
/// level minus this (`warn_clear_c` = `warn_c` − 1…). One degree is what the overheat detector
/// cleared at before the tiers had their own clear levels (16 steps of the TMP105, well above
/// the jitter of a five-sample median), so a file written then clears where it did.
pub const DEFAULT_HYSTERESIS_C: f64 = 1.0;
/// How far above critical the emergency tier trips when `emergency_c` is not given, °C. Above
/// 85 °C the TMP105 is accurate to ±3 °C only (±2 °C from −25 to 85 °C; SLLS648, "Electrical
/// Characteristics"): 10 °C past critical is past it beyond doubt even on a sensor reading 3 °C
/// high, and a console at 95 °C read 3 °C low is still under the 105 °C junction limit of
/// industrial-grade parts (the STM32F411's `6` temperature range), so the page comes while power
/// can still be cut before damage.
pub const DEFAULT_EMERGENCY_MARGIN_C: f64 = 10.0;
/// Default emergency level, °C: [`DEFAULT_CRITICAL_C`] + [`DEFAULT_EMERGENCY_MARGIN_C`].
pub const DEFAULT_EMERGENCY_C: f64 = DEFAULT_CRITICAL_C + DEFAULT_EMERGENCY_MARGIN_C;
/// Default dwell: how long the level must stay at or above a tier's level before the tier
/// trips. Ten samples at 2 Hz: a burst that outvotes the five-sample median for a few samples
/// (a noisy bus, a draught on the sensor) does not last 5 s, and a runaway at the fastest rate
/// the traces model (15 °C/min) moves only 1.25 °C meanwhile — and at the default critical level
/// the seat's own trip (85 °C for three conversions, under 2 s) has already cut its load.
pub const DEFAULT_DWELL: Duration = Duration::from_secs(5);
/// Default clear dwell: how long the level must stay at or under a tier's clear level before
/// the tier clears. 30 s, what the overheat detector waited before the tiers: a tier that clears
/// and trips again pages twice (and orders the failover again), one that stands 30 s longer
/// costs nothing.
pub const DEFAULT_CLEAR_DWELL: Duration = Duration::from_secs(30);
/// Default prediction horizon: five minutes is enough for an usher to switch a console to its
/// standby during a sitting.
pub const DEFAULT_HORIZON: Duration = Duration::from_secs(300);
/// Default telemetry period, ms (2 Hz, the rate the hemicycle's figures assume).
pub const DEFAULT_PERIOD_MS: i64 = 500;
/// Default serial speed: what the seat boards' UARTs run at.
pub const DEFAULT_BAUD: u32 = 115_200;
/// Default HTTP port of the dashboard and API.
pub const DEFAULT_HTTP_PORT: u16 = 7577;
/// Default HTTP bind: loopback only, so a fresh install exposes nothing to the network.
pub const DEFAULT_HTTP_BIND: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, DEFAULT_HTTP_PORT));
/// Default sink timeout per delivery attempt: a receiver silent this long is treated as down,
/// and the outbox retries later.
pub const DEFAULT_SINK_TIMEOUT: Duration = Duration::from_secs(5);
/// Default raw-sample retention: a day of full-rate samples, then only 1-minute rollups.
pub const DEFAULT_RAW_RETENTION: Duration = Duration::from_secs(24 * 3600);
/// Default rollup retention: 90 days of 1-minute rollups.
pub const DEFAULT_ROLLUP_RETENTION: Duration = Duration::from_secs(90 * 24 * 3600);
/// Default flush interval: at most one second of samples is lost to a `kill -9`.
pub const DEFAULT_FLUSH_INTERVAL: Duration = Duration::from_secs(1);
/// Database file name in the data folder when `[storage] path` is not given.
pub const DEFAULT_DATABASE_FILE: &str = "hemiwatch.sqlite";

/// A tier's clear level when its `*_clear_c` is not given: [`DEFAULT_HYSTERESIS_C`] under the
/// level in force, so a layer that moves a level moves its default clear level with it.
pub fn default_clear_c(level_c: f64) -> f64 {
    level_c - DEFAULT_HYSTERESIS_C
}

/// The emergency level when `emergency_c` is not given: [`DEFAULT_EMERGENCY_MARGIN_C`] above the
/// critical level in force, at most what the TMP105 can read ([`SENSOR_MAX_C`]): a level the
/// sensor cannot report would never trip.
pub fn default_emergency_c(critical_c: f64) -> f64 {
    (critical_c + DEFAULT_EMERGENCY_MARGIN_C).min(SENSOR_MAX_C)
}

/// The base URL of a daemon listening on [`DEFAULT_HTTP_BIND`]: what `status` and `ack` talk to
/// unless told otherwise.
pub fn default_api_url() -> String {
    format!("http://{DEFAULT_HTTP_BIND}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_url_is_the_default_bind() {
        assert_eq!(DEFAULT_HTTP_BIND.to_string(), "127.0.0.1:7577");
        assert_eq!(default_api_url(), "http://127.0.0.1:7577");
    }

    #[test]
    fn derived_tier_levels_follow_the_level_in_force_within_the_sensor() {
        assert_eq!(default_clear_c(DEFAULT_WARN_C), 69.0);
        assert_eq!(default_emergency_c(DEFAULT_CRITICAL_C), DEFAULT_EMERGENCY_C);
        assert_eq!(DEFAULT_EMERGENCY_C, 95.0);
        assert_eq!(default_emergency_c(90.0), 100.0);
        assert_eq!(
            default_emergency_c(120.0),
            SENSOR_MAX_C,
            "never above what the TMP105 reads"
        );
    }
}
