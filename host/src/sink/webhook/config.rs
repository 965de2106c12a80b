//! `[[sink]] kind = "webhook"`: a `url` (http or https) and an optional `timeout`.

use std::time::Duration;

use super::WebhookSink;
use crate::sink::config::Check;

/// A webhook sink's settings, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct WebhookConfig {
    /// Where to POST.
    pub url: String,
    /// Per-attempt timeout.
    pub timeout: Duration,
}

impl WebhookConfig {
    /// Checks the entry; `None` when it has problems (recorded in `check`).
    pub(crate) fn check(check: &mut Check<'_>) -> Option<Self> {
        let timeout = check.timeout();
        let url = check.http_url()?;
        Some(Self { url, timeout })
    }

    /// The runnable sink.
    pub(crate) fn build(self) -> WebhookSink {
        WebhookSink::new(self.url, self.timeout)
    }
}
