//! `GET /api/events`: the live model as Server-Sent Events. Each client first gets a `snapshot`
//! (so it never misses state, whenever it connects), then every change. A client too slow for
//! the broadcast buffer is not dropped: it gets a fresh snapshot and continues.
//!
//! Seats travel as [`SeatBrief`]s by default — what the map needs, ~70 bytes instead of ~330 —
//! because 577 seats republish about once a second each and a tablet on Wi-Fi should not pull
//! 200 KB/s; `?full=true` sends whole [`SeatState`]s instead (tests, integrations).

use std::convert::Infallible;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::{Stream, StreamExt};
use hemiwatch_protocol::SeatId;
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use super::{ApiQuery, HttpState};
use crate::model::{SeatState, SeatStatus, Update};

/// The part of a seat's state the map repaints from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeatBrief {
    /// Seat id.
    pub id: SeatId,
    /// Status (colour).
    pub status: SeatStatus,
    /// Hottest channel, °C, rounded to 0.01.
    pub temp_c: Option<f64>,
    /// Unix ms of the last verified frame.
    pub last_seen_ms: Option<u64>,
}

impl From<&SeatState> for SeatBrief {
    fn from(s: &SeatState) -> Self {
        Self {
            id: s.place.id,
            status: s.status,
            temp_c: s.hottest_c.map(|t| (t * 100.0).round() / 100.0),
            last_seen_ms: s.last_seen_ms,
        }
    }
}

/// Options of `GET /api/events`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// Whole seat states instead of briefs.
    full: Option<bool>,
}

fn to_event(value: &impl Serialize) -> Event {
    match serde_json::to_string(value) {
        Ok(s) => Event::default().data(s),
        // Our own types always serialize; if one ever did not, say so on the stream.
        Err(e) => Event::default().event("error").data(e.to_string()),
    }
}

fn snapshot_event(state: &HttpState, full: bool) -> Event {
    // Copy under the read lock, serialize after releasing it: fifty clients connecting at once
    // must not hold off the state task (the only writer) for fifty serializations.
    let (full_seats, briefs, alerts, counts) = {
        let model = state.live.model.read().unwrap_or_else(|p| p.into_inner());
        let full_seats: Vec<SeatState> = if full {
            model.seats.values().cloned().collect()
        } else {
            Vec::new()
        };
        let briefs: Vec<SeatBrief> = if full {
            Vec::new()
        } else {
            model.seats.values().map(SeatBrief::from).collect()
        };
        let alerts: Vec<_> = model.alerts.values().cloned().collect();
        (full_seats, briefs, alerts, model.counts())
    };
    let now_ms = crate::unix_ms();
    if full {
        to_event(
            &serde_json::json!({"type": "snapshot", "now_ms": now_ms, "counts": counts, "seats": full_seats, "alerts": alerts}),
        )
    } else {
        to_event(
            &serde_json::json!({"type": "snapshot", "now_ms": now_ms, "counts": counts, "seats": briefs, "alerts": alerts}),
        )
    }
}

fn update_event(update: &Update, full: bool) -> Event {
    match update {
        Update::Seat(s) if !full => {
            #[derive(Serialize)]
            struct Tagged<'a> {
                r#type: &'static str,
                #[serde(flatten)]
                seat: &'a SeatBrief,
            }
            to_event(&Tagged {
                r#type: "seat",
                seat: &SeatBrief::from(s.as_ref()),
            })
        }
        other => to_event(other),
    }
}

/// Counts connected SSE clients in the metrics for as long as the stream lives.
struct ClientGuard(prometheus_client::metrics::gauge::Gauge);

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The SSE handler.
pub async fn events(
    State(state): State<HttpState>,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, super::ApiError> {
    let full = q.full.unwrap_or(false);
    // Held by the stream: its place under the cap is freed when the client goes.
    let permit = state.guard.sse_client()?;
    // Subscribe before taking the snapshot: a change in between is then both in the snapshot and
    // queued, which is harmless, instead of in neither.
    let rx = state.live.updates.subscribe();
    let first = snapshot_event(&state, full);
    state.metrics.sse_clients.inc();
    let guard = (ClientGuard(state.metrics.sse_clients.clone()), permit);
    let shutdown = state.shutdown.clone();
    let stream = futures::stream::unfold(
        (rx, Some(first), state, guard),
        move |(mut rx, first, state, guard)| async move {
            if let Some(ev) = first {
                return Some((Ok(ev), (rx, None, state, guard)));
            }
            let ev = match rx.recv().await {
                Ok(update) => update_event(&update, full),
                Err(RecvError::Lagged(missed)) => {
                    // Skip what is still queued (older than the snapshot we are about to send).
                    while let Ok(_) | Err(TryRecvError::Lagged(_)) = rx.try_recv() {}
                    tracing::debug!(missed, "SSE client lagged; resending a snapshot");
                    snapshot_event(&state, full)
                }
                Err(RecvError::Closed) => return None,
            };
            Some((Ok(ev), (rx, None, state, guard)))
        },
    )
    .take_until(shutdown.cancelled_owned());
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}
