//! # hemiwatch — the daemon in the server room
//!
//! Reads the seat lines, verifies every frame with the shared protocol crate, keeps the live
//! picture of the hemicycle, predicts overheating, raises and delivers failover alerts, persists
//! everything in SQLite and serves the technicians' dashboard. The binary `hemiwatch` is a thin
//! CLI over this library.
//!
//! Data flows source → transform → sink, a folder per stage: bytes from a line (`source`) become
//! verified frames (`ingest`), update the model (`model`) and feed the pure detectors (`detect`)
//! whose findings the alert engine (`alert`) turns into alerts, persisted (`storage`) and delivered
//! (`sink`); `http` serves the model.

pub mod alert;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod decode;
pub mod demo;
pub mod detect;
pub mod http;
pub mod ingest;
pub mod metrics;
pub mod model;
pub mod replay;
pub mod sim;
pub mod sink;
pub mod source;
pub mod storage;
#[cfg(feature = "test-support")]
pub mod testkit;

/// Wall-clock milliseconds since the Unix epoch: the time base of everything stored and shown.
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}
