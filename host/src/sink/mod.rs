//! Sinks: where alerts go once raised — the actions that make an alert useful. Each sink is
//! async and delivers one [`Notification`] per call; retries, backoff and at-least-once delivery
//! across restarts belong to the outbox worker ([`outbox`]), which persists what is owed in SQLite.
//!
//! A sink kind is a folder (`webhook/`, `exec/`, `alertmanager/`) holding the sink and its
//! `config.rs`, which checks its `[[sink]]` entry and builds it; `config` reads the entry and
//! dispatches to the kind.

mod alertmanager;
mod config;
mod exec;
pub mod outbox;
mod webhook;

use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use alertmanager::AlertmanagerSink;
pub use config::SinkKind;
pub(crate) use config::{name_sinks, SinkEntry};
pub use exec::ExecSink;
pub use webhook::WebhookSink;

/// One alert state change as every sink receives it (the webhook's JSON body, the exec hook's
/// environment, the Alertmanager labels and annotations).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// Alert id (stable across restarts).
    pub id: i64,
    /// Alert kind (serialized as its stable name).
    pub kind: crate::alert::Kind,
    /// firing or resolved.
    pub state: crate::alert::AlertState,
    /// Seat concerned.
    pub seat: Option<u16>,
    /// Seat label, e.g. "B-04-12".
    pub label: Option<String>,
    /// Sector.
    pub sector: Option<String>,
    /// Line concerned (line_down).
    pub line: Option<String>,
    /// One sentence for the on-call technician.
    pub summary: String,
    /// Unix ms the alert started firing.
    pub started_at_ms: u64,
    /// Unix ms it resolved.
    pub resolved_at_ms: Option<u64>,
    /// Predicted crossing of the critical temperature, for overheat_predicted.
    pub predicted_critical_at_ms: Option<u64>,
}

/// Why a delivery failed; every variant is retried by the outbox with backoff.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The request could not be sent or timed out.
    #[error("{sink}: {source}")]
    Transport {
        /// Sink name.
        sink: &'static str,
        /// Cause.
        source: reqwest::Error,
    },
    /// The receiver answered with a non-success status.
    #[error("{sink}: HTTP {status}")]
    Status {
        /// Sink name.
        sink: &'static str,
        /// Status code.
        status: u16,
    },
    /// The exec hook could not start, timed out or exited non-zero.
    #[error("exec hook: {0}")]
    Exec(String),
}

/// A configured destination.
#[derive(Clone, Debug)]
pub enum Sink {
    /// JSON POST.
    Webhook(WebhookSink),
    /// A local program.
    Exec(ExecSink),
    /// Prometheus Alertmanager v2 API.
    Alertmanager(AlertmanagerSink),
}

impl Sink {
    /// Which kind of sink this is.
    pub fn kind(&self) -> SinkKind {
        match self {
            Self::Webhook(_) => SinkKind::Webhook,
            Self::Exec(_) => SinkKind::Exec,
            Self::Alertmanager(_) => SinkKind::Alertmanager,
        }
    }

    /// Short stable name, stored with outbox rows and used in metrics: the kind's config name.
    pub fn name(&self) -> &'static str {
        self.kind().name()
    }

    /// Delivers one notification.
    pub async fn deliver(&self, n: &Notification) -> Result<(), DeliveryError> {
        match self {
            Self::Webhook(s) => s.deliver(n).await,
            Self::Exec(s) => s.deliver(n).await,
            Self::Alertmanager(s) => s.deliver(n).await,
        }
    }
}

/// A configured sink with its identity: the name its outbox rows carry, so two sinks of the same
/// kind are told apart and a renamed or removed sink's rows are never delivered to another. The
/// name comes from `[[sink]] name = "..."`, or is the kind's name for the first sink of a kind
/// (what earlier versions stored, so their rows still reach it).
#[derive(Clone, Debug)]
pub struct NamedSink {
    /// Identity in the outbox, the logs and the metrics.
    pub name: String,
    /// Where it delivers.
    pub sink: Sink,
}

impl NamedSink {
    /// `sink` under `name`.
    pub fn new(name: impl Into<String>, sink: Sink) -> Self {
        Self {
            name: name.into(),
            sink,
        }
    }
}

/// An HTTP client for the HTTP sinks: no proxy (the server room talks to its own hosts), a
/// request timeout so a dead receiver cannot hold a delivery forever.
pub(crate) fn http_client(timeout: Duration) -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(timeout)
        .no_proxy()
        .build()
        .unwrap_or_else(|_| reqwest::Client::new())
}

/// One JSON POST for an HTTP sink of `kind`: any 2xx is success; anything else, and a request
/// that cannot be sent, is a [`DeliveryError`] naming the kind.
pub(crate) async fn post_json(
    client: &reqwest::Client,
    url: &str,
    body: &impl Serialize,
    kind: SinkKind,
) -> Result<(), DeliveryError> {
    let resp = client
        .post(url)
        .json(body)
        .send()
        .await
        .map_err(|source| DeliveryError::Transport {
            sink: kind.name(),
            source,
        })?;
    if resp.status().is_success() {
        Ok(())
    } else {
        Err(DeliveryError::Status {
            sink: kind.name(),
            status: resp.status().as_u16(),
        })
    }
}
