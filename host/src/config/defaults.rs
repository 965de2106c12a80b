//! The defaults of every setting a config file may leave out, in one place: the config applies
//! them, and so do the tools that see seats without a config (`replay`, the CLI's API URL), so
//! that "what happens when nothing is said" has one answer.
//!
//! The embedded default (`default.toml`) spells the same values out for the reader; the tests
//! `defaults_apply_when_nothing_is_said` (a file that says nothing) and
//! `the_embedded_default_spells_out_the_defaults` keep the three in step.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

/// Default warn threshold, °C: a console this warm is worth a look but not yet in danger.
pub const DEFAULT_WARN_C: f64 = 70.0;
/// Default critical threshold, °C: the temperature the prediction aims at.
pub const DEFAULT_CRITICAL_C: f64 = 85.0;
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
}
