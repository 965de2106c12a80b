//! Ranges the config accepts, with where each bound comes from: values outside cannot work
//! (a seat id the protocol cannot address, a threshold the sensor cannot read).

/// Highest seat id: the frame address is the postcard varint of `(seat << 4) | kind`, which stays
/// within the 2 bytes of the protocol's size budget up to seat 1023 (`protocol/src/frame.rs`).
pub const MAX_SEAT_ID: i64 = 1023;
/// The TMP105 measures −55 °C to +125 °C (TI SBOS360, "Specified temperature range"); a
/// threshold outside cannot be reached by a reading.
pub const SENSOR_MIN_C: f64 = -55.0;
/// See [`SENSOR_MIN_C`].
pub const SENSOR_MAX_C: f64 = 125.0;
/// Shortest telemetry period accepted: below 100 ms, 50 seats of ~28-byte frames exceed what a
/// 115 200-baud line carries (11 520 bytes/s).
pub const MIN_PERIOD_MS: i64 = 100;
/// Longest telemetry period accepted: 60 s (the wire field is a u16 of ms, ≤ 65 535, and a
/// longer period would make a silent seat undetectable for minutes).
pub const MAX_PERIOD_MS: i64 = 60_000;
