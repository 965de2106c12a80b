//! Ranges the config accepts, with where each bound comes from: values outside cannot work
//! (a seat id the protocol cannot address, a threshold the sensor cannot read).

/// Highest seat id: the frame address is the postcard varint of `(seat << 4) | kind`, which stays
/// within the 2 bytes of the protocol's size budget up to seat 1023 (`protocol/src/frame.rs`).
pub const MAX_SEAT_ID: i64 = 1023;
/// A threshold outside what the TMP105 can read can never be reached: the range is the
/// sensor's own (its driver holds the datasheet figures), as the sensor-fault detector uses it.
pub use crate::detect::sensor::{SENSOR_MAX_C, SENSOR_MIN_C};
/// Shortest telemetry period accepted: below 100 ms, 50 seats of ~28-byte frames exceed what a
/// 115 200-baud line carries (11 520 bytes/s).
pub const MIN_PERIOD_MS: i64 = 100;
/// Longest telemetry period accepted: 60 s (the wire field is a u16 of ms, ≤ 65 535, and a
/// longer period would make a silent seat undetectable for minutes).
pub const MAX_PERIOD_MS: i64 = 60_000;
/// Longest dwell accepted (how long a level must hold before a tier trips): a minute. The
/// critical tier orders the failover; at the fastest rate the traces model (15 °C/min) a longer
/// wait lets a runaway pass critical by more than the default emergency margin (10 °C) first.
pub const MAX_DWELL: std::time::Duration = std::time::Duration::from_secs(60);
/// Longest clear dwell accepted (how long a level must hold before a tier clears): an hour, the
/// horizon's bound. Clearing late is safe; an alert that never clears is not useful.
pub const MAX_CLEAR_DWELL: std::time::Duration = std::time::Duration::from_secs(3600);
