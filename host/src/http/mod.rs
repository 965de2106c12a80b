//! The daemon's HTTP face: the technicians' dashboard (embedded, works offline), the JSON API the
//! dashboard and `hemiwatch status`/`ack` use, live updates over Server-Sent Events, and
//! `/metrics` for Prometheus. It only reads the live model and asks the state task to change
//! things (acks, silences) — it never writes state itself, so the single-writer rule holds.
//!
//! | Method and path | Answer |
//! |---|---|
//! | `GET /` , `GET /assets/{name}` | the dashboard (embedded files, ETag, CSP) |
//! | `GET /api/status` | seats per status, lines with counters, firing alerts (`hemiwatch status`) |
//! | `GET /api/seats[?sector=&status=]` | `{counts, seats: [SeatState]}` |
//! | `GET /api/seats/{id}` | one `SeatState`; 404 if not configured |
//! | `GET /api/seats/{id}/history[?from=&to=]` | `{seat, from, to, points: [HistoryPoint]}`, unix ms, default the last 30 min |
//! | `GET /api/seats/{id}/events[?limit=]` | `{seat, events: [EventView]}`, newest first |
//! | `GET /api/alerts[?state=&sector=&seat=&kind=]` | `{alerts: [AlertView]}`; state = pending, firing, resolved or open |
//! | `POST /api/alerts/{id}/ack` `{by, comment}` | the acknowledged `AlertView` (token) |
//! | `POST /api/silences` `{matcher, until_ms \| duration, by, comment}` | 201 `{id, until_ms, matcher}` (token) |
//! | `GET /api/events[?full=true]` | SSE: a `snapshot`, then `seat` and `alert` changes |
//! | `GET /metrics` | Prometheus text 0.0.4, or OpenMetrics when asked for |
//!
//! Errors are JSON `{"error": "..."}`: 400 bad input (path, query or body — the sentence names the
//! part), 401 a write without the right `Authorization: Bearer` token, 403 a `Host` that does not
//! name this daemon (DNS rebinding), 404 unknown seat, alert or path, 429 too many SSE streams or
//! history queries at once (`guard`), 500 a fault of ours (the details go to the log, never to the
//! client), 503 the state task or storage is not available.

mod api;
mod assets;
mod auth;
mod error;
mod guard;
mod history;
mod sse;

use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;
use hemiwatch_protocol::SeatId;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::compression::CompressionLayer;

use crate::metrics::Metrics;
use crate::model::{EventView, HistoryPoint, LiveModel};
use crate::sink::outbox::OutboxCounters;
use crate::source::LineHandle;
use crate::storage::StorageCounters;

pub use assets::{first_load_bytes, Asset, ASSETS};
pub use auth::{token_bits, MIN_TOKEN_BITS};
pub use error::{ApiError, ApiJson, ApiPath, ApiQuery};
pub use guard::{HttpGuard, LogLimiter, MAX_HISTORY_QUERIES, MAX_SSE_CLIENTS};
pub use history::StorageHistory;
pub use sse::SeatBrief;

/// Where the API reads a seat's past from (SQLite in the daemon). A trait so the HTTP layer does
/// not depend on the storage schema; calls are blocking and run on `spawn_blocking`.
pub trait HistorySource: Send + Sync {
    /// Temperature points of `seat` with `from_ms <= t_ms <= to_ms`, oldest first: raw samples
    /// where kept, 1-minute rollups beyond. `Err` carries a sentence for the log and the 500.
    fn samples(&self, seat: SeatId, from_ms: u64, to_ms: u64) -> Result<Vec<HistoryPoint>, String>;
    /// The `limit` most recent events of `seat`, newest first.
    fn events(&self, seat: SeatId, limit: usize) -> Result<Vec<EventView>, String>;
}

/// Everything the handlers need; cheap to clone (handles only).
#[derive(Clone)]
pub struct HttpState {
    /// The live model, its update stream and the request channel to the state task.
    pub live: LiveModel,
    /// Lines, for their counters in `/metrics` and `/api/status`.
    pub lines: Vec<LineHandle>,
    /// Bearer token that API writes must carry; `None` disables writes entirely (a daemon without
    /// a token must not be writable by anyone who reaches the port).
    pub api_token: Option<String>,
    /// Seat history and events; `None` when the daemon runs without storage.
    pub history: Option<Arc<dyn HistorySource>>,
    /// Metric handles the rest of the daemon observes into.
    pub metrics: Arc<Metrics>,
    /// Storage writer counters, exported in `/metrics`.
    pub storage_counters: Option<Arc<StorageCounters>>,
    /// Outbox delivery counters, exported in `/metrics`.
    pub outbox_counters: Option<Arc<OutboxCounters>>,
    /// Fired on daemon shutdown: ends SSE streams so graceful shutdown does not hang on them.
    pub shutdown: CancellationToken,
    /// Caps, the wrong-token log limit and the `Host` check.
    pub guard: HttpGuard,
}

impl std::fmt::Debug for HttpState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpState")
            .field("lines", &self.lines.len())
            .field("api_token", &self.api_token.as_ref().map(|_| "<set>"))
            .field("history", &self.history.is_some())
            .finish_non_exhaustive()
    }
}

/// Errors of the HTTP server itself.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The listener failed.
    #[error("HTTP server failed: {0}")]
    Serve(#[from] std::io::Error),
}

/// The whole application: dashboard, API, SSE and metrics. Public so tests and benches can drive
/// it without a socket.
pub fn router(state: HttpState) -> Router {
    let api = Router::new()
        .route("/status", get(api::status))
        .route("/seats", get(api::seats))
        .route("/seats/{id}", get(api::seat))
        .route("/seats/{id}/history", get(api::history))
        .route("/seats/{id}/events", get(api::seat_events))
        .route("/alerts", get(api::alerts))
        .route("/alerts/{id}/ack", post(api::ack))
        .route("/silences", post(api::silence))
        .route("/events", get(sse::events))
        .fallback(api::not_found);
    Router::new()
        .route("/", get(assets::index))
        .route("/assets/{name}", get(assets::asset))
        .route("/metrics", get(api::metrics))
        .nest("/api", api)
        // Gzip what the client accepts; tower-http's default predicate skips `text/event-stream`,
        // so SSE events are never held back in a compressor's buffer.
        .layer(CompressionLayer::new().gzip(true))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::check_host,
        ))
        .with_state(state)
}

/// Serves until `shutdown` fires, then lets in-flight requests finish (SSE streams end on the
/// same token).
pub async fn serve(
    listener: TcpListener,
    state: HttpState,
    shutdown: CancellationToken,
) -> Result<(), HttpError> {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "HTTP server listening");
    }
    let app = router(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await?;
    Ok(())
}
