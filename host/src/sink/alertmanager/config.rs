//! `[[sink]] kind = "alertmanager"`: the Alertmanager's base `url` (http or https) and an
//! optional `timeout`.

use std::time::Duration;

use super::AlertmanagerSink;
use crate::sink::config::Check;

/// An Alertmanager sink's settings, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AlertmanagerConfig {
    /// Base URL, e.g. `http://127.0.0.1:9093`.
    pub url: String,
    /// Per-attempt timeout.
    pub timeout: Duration,
}

impl AlertmanagerConfig {
    /// Checks the entry; `None` when it has problems (recorded in `check`).
    pub(crate) fn check(check: &mut Check<'_>) -> Option<Self> {
        let timeout = check.timeout();
        let url = check.http_url()?;
        Some(Self { url, timeout })
    }

    /// The runnable sink.
    pub(crate) fn build(self) -> AlertmanagerSink {
        AlertmanagerSink::new(&self.url, self.timeout)
    }
}
