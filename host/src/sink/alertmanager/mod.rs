//! The Alertmanager sink: alerts pushed to a Prometheus Alertmanager through its v2 API, so a
//! server room that already runs one routes, groups and silences Hemiwatch alerts with the
//! rest. `config` checks its `[[sink]] kind = "alertmanager"` entry and builds it.

mod config;
mod sink;

pub(crate) use config::AlertmanagerConfig;
pub use sink::AlertmanagerSink;
