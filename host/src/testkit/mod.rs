//! # The test kit — what every Hemiwatch test and bench builds on
//!
//! Tests in `host/tests/`, benches in `host/benches/` and the end-to-end rig in `tests/` all need
//! the same few things: daemon settings for a handful of seats, a daemon running in process on a
//! loopback port, seat keys that match what the simulator signs with, a free port, a bounded
//! wait, and a real Alertmanager; and the config fuzzer's core (`config_fuzz`), which its
//! example and a test share. Each has exactly one home here, compiled only with the
//! `test-support` feature (the crate's own dev-dependencies and `hemiwatch-tests` enable it), so
//! the daemon binary never carries it.
//!
//! The kit names the daemon's own types (settings, the running daemon's handles) so that tests do
//! not have to: when those types move or are renamed, this folder is where tests follow.

pub mod alertmanager;
pub mod config_fuzz;
pub mod daemon;
pub mod keys;
pub mod net;
pub mod process;
pub mod settings;
pub mod webhook;

pub use alertmanager::Alertmanager;
pub use daemon::TestDaemon;
pub use keys::{key_hex, seat_key};
pub use net::{client, free_port, wait_for, wait_until, Deadline};
pub use process::Proc;
pub use settings::{place, SettingsBuilder};
pub use webhook::WebhookReceiver;
