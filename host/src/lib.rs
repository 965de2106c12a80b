//! # hemiwatch — the daemon in the server room
//!
//! Reads the seat lines, verifies every frame with the shared protocol crate, keeps the live
//! picture of the hemicycle, predicts overheating, raises and delivers failover alerts, persists
//! everything in SQLite and serves the technicians' dashboard. The binary `hemiwatch` is a thin
//! CLI over this library.
//!
//! Data flows source → transform → sink, a folder per stage: bytes from a line (`source`) become
//! verified frames (`ingest`); the daemon's single-writer state task (`daemon`, a file per job)
//! updates the model (`model`) and feeds the pure detectors (`detect`), whose findings the alert
//! engine (`alert`, with its typed vocabulary in `alert/kind.rs`) turns into alerts, persisted
//! (`storage`) and delivered (`sink`, a folder per sink kind); `http` serves the model. `config`
//! turns the TOML file into the `Settings` the daemon runs on, one file per section; `sim` runs
//! the seat firmware's own core on in-memory ports for `demo`, `sim` and the tests.

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
