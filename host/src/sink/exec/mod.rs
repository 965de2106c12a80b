//! The exec sink: a local program run with the alert's fields as environment variables — the
//! simplest way to drive a relay that switches a console to its standby, or a site's own pager.
//! `config` checks its `[[sink]] kind = "exec"` entry and builds it.

mod config;
mod sink;

pub(crate) use config::ExecConfig;
pub use sink::ExecSink;
