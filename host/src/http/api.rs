//! JSON handlers. Reads come from a snapshot of the live model (the read lock is held only to
//! clone); writes become [`Request`]s to the state task, answered on a oneshot.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use hemiwatch_protocol::SeatId;
use serde::{Deserialize, Serialize};
use tokio::sync::oneshot;

use super::auth::Authorized;
use super::{ApiError, ApiJson, ApiPath, ApiQuery, HttpState};
use crate::alert::AlertState;
use crate::model::{AlertView, Hemicycle, Request, RequestError, SeatState, SeatStatus, SilenceMatcher};

/// Default window of the history endpoint: the dashboard's 30-minute chart.
const DEFAULT_HISTORY_MS: u64 = 30 * 60 * 1000;
/// Longest history window one request may ask for (31 days of 1-minute rollups ≈ 45 k points).
const MAX_HISTORY_MS: u64 = 31 * 24 * 3600 * 1000;
/// Longest silence: beyond this a silence is a forgotten switch-off, not maintenance.
const MAX_SILENCE_MS: u64 = 30 * 24 * 3600 * 1000;
/// How long a write waits for the state task before answering 503.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
/// Bounds on free text a technician types, so one request cannot bloat the database.
const MAX_BY: usize = 64;
const MAX_COMMENT: usize = 1000;

fn snapshot<T>(state: &HttpState, f: impl FnOnce(&Hemicycle) -> T) -> T {
    let model = state.live.model.read().unwrap_or_else(|p| p.into_inner());
    f(&model)
}

fn seat_exists(state: &HttpState, id: SeatId) -> Result<(), ApiError> {
    if snapshot(state, |m| m.seats.contains_key(&id)) {
        Ok(())
    } else {
        Err(ApiError::not_found(format!("no seat {id} is configured")))
    }
}

/// `GET /api/status`: what `hemiwatch status` prints.
pub async fn status(State(state): State<HttpState>) -> Json<serde_json::Value> {
    let (seats, counts, firing) = snapshot(&state, |m| {
        let firing: Vec<AlertView> = m
            .alerts
            .values()
            .filter(|a| a.state == AlertState::Firing)
            .cloned()
            .collect();
        (m.seats.len(), m.counts(), firing)
    });
    let lines: Vec<serde_json::Value> = state
        .lines
        .iter()
        .map(|l| {
            let c = l.counters.snapshot();
            serde_json::json!({
                "name": l.name,
                "endpoint": l.endpoint.to_string(),
                "up": c.up,
                "bytes": c.bytes,
                "bytes_out": c.bytes_out,
                "frames": c.frames,
                "framing_errors": c.framing_errors,
                "opens": c.opens,
            })
        })
        .collect();
    let storage = state.storage_counters.as_deref().map(|c| {
        let v = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
        let failing = c.failing();
        serde_json::json!({
            "failing": failing.is_some(),
            "failing_since_ms": failing.as_ref().map(|f| f.0),
            "last_error": failing.map(|f| f.1),
            "commit_errors": v(&c.errors),
            "kept_records": v(&c.kept),
            "kept_dropped": v(&c.kept_dropped),
            "held_notifications": v(&c.held),
            "held_dropped": v(&c.held_dropped),
        })
    });
    let lag_us = state
        .metrics
        .last_tick_lag_micros
        .load(std::sync::atomic::Ordering::Relaxed);
    let last_tick = state
        .metrics
        .last_tick_ms
        .load(std::sync::atomic::Ordering::Relaxed);
    let daemon = serde_json::json!({
        "process": crate::metrics::ProcessStats::read(),
        "tick_lag_ms": lag_us as f64 / 1e3,
        "last_tick_ms": (last_tick > 0).then_some(last_tick),
        "storage_queue": state
            .storage_counters
            .as_deref()
            .map(|c| c.queued.load(std::sync::atomic::Ordering::Relaxed)),
    });
    Json(serde_json::json!({
        "now_ms": crate::unix_ms(),
        "daemon": daemon,
        "seats": seats,
        "counts": counts,
        "lines": lines,
        "alerts_firing": firing,
        "storage": storage,
    }))
}

/// Filters of `GET /api/seats`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeatsQuery {
    sector: Option<String>,
    status: Option<SeatStatus>,
}

/// Answer of `GET /api/seats`.
#[derive(Debug, Serialize)]
pub struct SeatsAnswer {
    /// Seats per status over the whole hemicycle (not just the filtered ones), for the legend.
    pub counts: BTreeMap<SeatStatus, usize>,
    /// The seats, by id.
    pub seats: Vec<SeatState>,
}

/// `GET /api/seats[?sector=&status=]`: every seat (or the filtered ones) and the counts.
pub async fn seats(State(state): State<HttpState>, ApiQuery(q): ApiQuery<SeatsQuery>) -> Json<SeatsAnswer> {
    Json(snapshot(&state, |m| SeatsAnswer {
        counts: m.counts(),
        seats: m
            .seats
            .values()
            .filter(|s| q.sector.as_ref().is_none_or(|x| &s.place.sector == x))
            .filter(|s| q.status.is_none_or(|x| s.status == x))
            .cloned()
            .collect(),
    }))
}

/// `GET /api/seats/{id}`: one seat, 404 if not configured.
pub async fn seat(
    State(state): State<HttpState>,
    ApiPath(id): ApiPath<SeatId>,
) -> Result<Json<SeatState>, ApiError> {
    snapshot(&state, |m| m.seats.get(&id).cloned())
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("no seat {id} is configured")))
}

/// Window of `GET /api/seats/{id}/history`, unix ms.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryQuery {
    from: Option<u64>,
    to: Option<u64>,
}

/// A failed storage read: the details (SQLite's words, paths) go to the log, the client gets a
/// sentence that reveals nothing of the file.
fn storage_fault(what: &str, detail: &str) -> ApiError {
    tracing::error!(error = %detail, "{what} failed");
    ApiError::internal(format!(
        "the {what} failed on the daemon's side; its log says why"
    ))
}

fn history_source(state: &HttpState) -> Result<std::sync::Arc<dyn super::HistorySource>, ApiError> {
    state
        .history
        .clone()
        .ok_or_else(|| ApiError::unavailable("history is not available: the daemon runs without storage"))
}

/// `GET /api/seats/{id}/history?from=&to=`: temperature points (default: the last 30 minutes).
pub async fn history(
    State(state): State<HttpState>,
    ApiPath(id): ApiPath<SeatId>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    seat_exists(&state, id)?;
    let to = q.to.unwrap_or_else(crate::unix_ms);
    let from = q.from.unwrap_or_else(|| to.saturating_sub(DEFAULT_HISTORY_MS));
    if from > to {
        return Err(ApiError::bad_request(format!(
            "`from` ({from}) is after `to` ({to}); both are unix milliseconds"
        )));
    }
    if to - from > MAX_HISTORY_MS {
        return Err(ApiError::bad_request(format!(
            "the window is {} ms long; at most {MAX_HISTORY_MS} ms (31 days) per request",
            to - from
        )));
    }
    let source = history_source(&state)?;
    let permit = state.guard.history_query()?;
    let points = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        source.samples(id, from, to)
    })
    .await
    .map_err(|e| storage_fault("history query", &e.to_string()))?
    .map_err(|e| storage_fault("history query", &e))?;
    Ok(Json(
        serde_json::json!({ "seat": id, "from": from, "to": to, "points": points }),
    ))
}

/// Size of `GET /api/seats/{id}/events`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    limit: Option<usize>,
}

/// `GET /api/seats/{id}/events?limit=`: the seat's recent events, newest first (default 20).
pub async fn seat_events(
    State(state): State<HttpState>,
    ApiPath(id): ApiPath<SeatId>,
    ApiQuery(q): ApiQuery<EventsQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    seat_exists(&state, id)?;
    let limit = q.limit.unwrap_or(20);
    if !(1..=500).contains(&limit) {
        return Err(ApiError::bad_request(format!(
            "`limit` must be 1..=500, not {limit}"
        )));
    }
    let source = history_source(&state)?;
    let permit = state.guard.history_query()?;
    let events = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        source.events(id, limit)
    })
    .await
    .map_err(|e| storage_fault("events query", &e.to_string()))?
    .map_err(|e| storage_fault("events query", &e))?;
    Ok(Json(serde_json::json!({ "seat": id, "events": events })))
}

/// Filters of `GET /api/alerts`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertsQuery {
    state: Option<String>,
    sector: Option<String>,
    seat: Option<SeatId>,
    kind: Option<String>,
}

/// The `state` filter of `GET /api/alerts`: one lifecycle state, or `open` (pending or firing).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
enum StateFilter {
    /// Exactly this state.
    Is(AlertState),
    /// Pending or firing.
    Open,
}

impl StateFilter {
    /// The name of [`Self::Open`] in the query string.
    const OPEN: &'static str = "open";

    /// Parses the query value; the error names what is accepted.
    fn parse(s: &str) -> Result<Self, ApiError> {
        if s == Self::OPEN {
            return Ok(Self::Open);
        }
        AlertState::from_name(s).map(Self::Is).ok_or_else(|| {
            let names: Vec<&str> = AlertState::ALL
                .iter()
                .map(|s| s.name())
                .chain([Self::OPEN])
                .collect();
            ApiError::bad_request(format!(
                "unknown alert state `{s}`; expected one of {}",
                names.join(", ")
            ))
        })
    }

    /// Whether an alert in `state` passes.
    fn admits(self, state: AlertState) -> bool {
        match self {
            Self::Is(s) => state == s,
            Self::Open => state.is_open(),
        }
    }
}

/// `GET /api/alerts[?state=&sector=&seat=&kind=]`: newest first.
pub async fn alerts(
    State(state): State<HttpState>,
    ApiQuery(q): ApiQuery<AlertsQuery>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let state_filter = q.state.as_deref().map(StateFilter::parse).transpose()?;
    let mut list: Vec<AlertView> = snapshot(&state, |m| {
        m.alerts
            .values()
            .filter(|a| state_filter.is_none_or(|f| f.admits(a.state)))
            .filter(|a| q.sector.is_none() || a.sector == q.sector)
            .filter(|a| q.seat.is_none() || a.seat == q.seat)
            .filter(|a| q.kind.as_deref().is_none_or(|k| a.kind.name() == k))
            .cloned()
            .collect()
    });
    list.sort_by(|a, b| b.started_at_ms.cmp(&a.started_at_ms).then(b.id.cmp(&a.id)));
    Ok(Json(serde_json::json!({ "alerts": list })))
}

fn check_text(field: &str, value: &str, max: usize, required: bool) -> Result<(), ApiError> {
    if required && value.trim().is_empty() {
        return Err(ApiError::bad_request(format!("`{field}` must not be empty")));
    }
    if value.chars().count() > max {
        return Err(ApiError::bad_request(format!(
            "`{field}` is longer than {max} characters"
        )));
    }
    Ok(())
}

/// Checks the author and comment every write signs with (an acknowledgement, a silence): `by`
/// required, both within their lengths.
fn check_signature(by: &str, comment: &str) -> Result<(), ApiError> {
    check_text("by", by, MAX_BY, true)?;
    // `by` is written to the log: a newline or an escape sequence there would forge log lines.
    if by.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "`by` must not contain control characters (newlines, escapes)",
        ));
    }
    check_text("comment", comment, MAX_COMMENT, false)
}

async fn ask<T>(
    state: &HttpState,
    make: impl FnOnce(oneshot::Sender<Result<T, RequestError>>) -> Request,
) -> Result<T, ApiError> {
    let (tx, rx) = oneshot::channel();
    state
        .live
        .requests
        .send(make(tx))
        .await
        .map_err(|_| ApiError::from(RequestError::Unavailable))?;
    match tokio::time::timeout(REQUEST_TIMEOUT, rx).await {
        Ok(Ok(answer)) => answer.map_err(ApiError::from),
        Ok(Err(_)) | Err(_) => Err(ApiError::from(RequestError::Unavailable)),
    }
}

/// Body of `POST /api/alerts/{id}/ack`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AckBody {
    by: String,
    #[serde(default)]
    comment: String,
}

/// `POST /api/alerts/{id}/ack` (bearer token): acknowledges, answers the updated alert.
pub async fn ack(
    _auth: Authorized,
    State(state): State<HttpState>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<AckBody>,
) -> Result<Response, ApiError> {
    check_signature(&body.by, &body.comment)?;
    let by = body.by.trim().to_string();
    let written = ask(&state, |reply| Request::Ack {
        id,
        by,
        comment: body.comment,
        reply,
    })
    .await?;
    let alert = written.value;
    tracing::info!(alert = id, by = %alert.ack.as_ref().map(|a| a.by.as_str()).unwrap_or(""), "alert acknowledged");
    // 202 while storage fails: acknowledged, kept in memory, not yet on disk.
    let status = if written.committed {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((status, Json(alert)).into_response())
}

/// Body of `POST /api/silences`: a matcher and either an absolute end or a duration.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SilenceBody {
    matcher: SilenceMatcher,
    until_ms: Option<u64>,
    /// Human duration, e.g. "30m", "2h".
    duration: Option<String>,
    by: String,
    #[serde(default)]
    comment: String,
}

/// `POST /api/silences` (bearer token): answers 201 with the silence id and its end.
pub async fn silence(
    _auth: Authorized,
    State(state): State<HttpState>,
    ApiJson(body): ApiJson<SilenceBody>,
) -> Result<Response, ApiError> {
    check_signature(&body.by, &body.comment)?;
    let m = &body.matcher;
    if m.seat.is_none() && m.kind.is_none() && m.sector.is_none() {
        return Err(ApiError::bad_request(
            "the matcher is empty: name a seat, a kind or a sector (silencing everything is not allowed)",
        ));
    }
    if let Some(seat) = m.seat {
        if !snapshot(&state, |h| h.seats.contains_key(&seat)) {
            return Err(ApiError::bad_request(format!(
                "matcher.seat: no seat {seat} is configured"
            )));
        }
    }
    let now = crate::unix_ms();
    let until_ms = match (body.until_ms, body.duration.as_deref()) {
        (Some(u), None) => u,
        (None, Some(d)) => {
            let d = humantime::parse_duration(d).map_err(|e| {
                ApiError::bad_request(format!("`duration` {d:?}: {e} (e.g. \"30m\", \"2h\")"))
            })?;
            now.saturating_add(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        }
        _ => {
            return Err(ApiError::bad_request(
                "give exactly one of `until_ms` (unix ms) or `duration` (e.g. \"2h\")",
            ))
        }
    };
    if until_ms <= now {
        return Err(ApiError::bad_request("the silence would end in the past"));
    }
    if until_ms - now > MAX_SILENCE_MS {
        return Err(ApiError::bad_request("a silence may last at most 30 days"));
    }
    let by = body.by.trim().to_string();
    let matcher = body.matcher.clone();
    let written = ask(&state, |reply| Request::Silence {
        matcher,
        until_ms,
        by,
        comment: body.comment,
        reply,
    })
    .await?;
    let id = written.value;
    tracing::info!(silence = id, until_ms, "silence created");
    Ok((
        // 202 while storage fails: in force, kept in memory, not yet on disk.
        if written.committed {
            StatusCode::CREATED
        } else {
            StatusCode::ACCEPTED
        },
        Json(serde_json::json!({ "id": id, "until_ms": until_ms, "matcher": body.matcher })),
    )
        .into_response())
}

/// `GET /metrics`: OpenMetrics text when the scraper asks for it (Prometheus does), else the
/// Prometheus text format 0.0.4 (curl, `promtool check metrics`).
pub async fn metrics(
    State(state): State<HttpState>,
    headers: axum::http::HeaderMap,
) -> Result<Response, ApiError> {
    // Render from a copy: encoding ~3 k series must not hold the lock the state task writes under.
    let model = snapshot(&state, Hemicycle::clone);
    let text = state
        .metrics
        .render(
            &model,
            &crate::metrics::ScrapeSources {
                lines: &state.lines,
                storage: state.storage_counters.as_deref(),
                outbox: state.outbox_counters.as_deref(),
            },
        )
        .map_err(|e| ApiError::internal(format!("cannot encode metrics: {e}")))?;
    let openmetrics = headers
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("application/openmetrics-text"));
    if openmetrics {
        Ok((
            [(header::CONTENT_TYPE, crate::metrics::OPENMETRICS_CONTENT_TYPE)],
            text,
        )
            .into_response())
    } else {
        let text = crate::metrics::to_text_format(&text);
        Ok(([(header::CONTENT_TYPE, crate::metrics::TEXT_CONTENT_TYPE)], text).into_response())
    }
}

/// Unknown `/api/...` path: a JSON 404 rather than an empty body.
pub async fn not_found(uri: axum::extract::OriginalUri) -> ApiError {
    ApiError::not_found(format!("no API endpoint at {}", uri.0.path()))
}
