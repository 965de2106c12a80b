//! What keeps the HTTP face from being turned against the daemon: caps on what a client can hold
//! open (SSE streams, history queries running on the blocking pool), a rate limit on the log line
//! a wrong token writes (a guessing client must not flood the journal), and the `Host` check that
//! defeats DNS rebinding (a web page on `evil.example` whose name re-resolves to this daemon's
//! address must not reach the API through a technician's browser).

use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::header::HOST;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::{ApiError, HttpState};

/// SSE clients at once: the dashboards of a server room and its control room, with room to
/// spare (each costs a broadcast receiver and a snapshot on lag).
pub const MAX_SSE_CLIENTS: usize = 64;
/// History and event queries running at once: each holds a blocking-pool thread and a SQLite
/// read connection; beyond this a client is told to retry (429).
pub const MAX_HISTORY_QUERIES: usize = 8;
/// A wrong token is logged at most once per this long, with the count of those not logged.
pub const AUTH_LOG_EVERY: Duration = Duration::from_secs(10);

/// The shared limits; cloning shares them.
#[derive(Clone, Debug)]
pub struct HttpGuard {
    sse: Arc<Semaphore>,
    history: Arc<Semaphore>,
    auth_log: Arc<Mutex<LogLimiter>>,
    /// The machine's own name, accepted in `Host` beside IP literals and `localhost`.
    hostname: Option<String>,
}

impl HttpGuard {
    /// The daemon's limits ([`MAX_SSE_CLIENTS`], [`MAX_HISTORY_QUERIES`]).
    pub fn new() -> Self {
        Self::with_caps(MAX_SSE_CLIENTS, MAX_HISTORY_QUERIES)
    }

    /// Other caps (tests reach them with a few clients).
    pub fn with_caps(sse: usize, history: usize) -> Self {
        Self {
            sse: Arc::new(Semaphore::new(sse)),
            history: Arc::new(Semaphore::new(history)),
            auth_log: Arc::new(Mutex::new(LogLimiter::new(AUTH_LOG_EVERY))),
            // Linux's own record of the name (what `hostname` prints).
            hostname: std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty()),
        }
    }

    /// A place for one more SSE stream, held as long as it lives; 429 when full.
    pub(super) fn sse_client(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        self.sse.clone().try_acquire_owned().map_err(|_| {
            ApiError::too_many(format!(
                "{MAX_SSE_CLIENTS} live streams are open already (the cap); retry later"
            ))
        })
    }

    /// A place for one history query; 429 when full.
    pub(super) fn history_query(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        self.history
            .clone()
            .try_acquire_owned()
            .map_err(|_| ApiError::too_many("too many history queries at once; retry in a moment"))
    }

    /// Logs a refused token, at most once per [`AUTH_LOG_EVERY`].
    pub(super) fn wrong_token(&self) {
        let mut l = self.auth_log.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(suppressed) = l.allow(Instant::now()) {
            tracing::warn!(
                not_logged_since = suppressed,
                "API write refused: wrong bearer token (logged at most every {} s)",
                AUTH_LOG_EVERY.as_secs()
            );
        }
    }

    /// Whether a `Host` header value names this daemon: an IP literal (which no DNS answer can
    /// rebind), `localhost`, or the machine's own name; any port.
    pub fn host_allowed(&self, host: &str) -> bool {
        let name = match host.strip_prefix('[') {
            Some(v6) => v6.split(']').next().unwrap_or(""),
            None => host.rsplit_once(':').map_or(host, |(h, port)| {
                if port.chars().all(|c| c.is_ascii_digit()) {
                    h
                } else {
                    host
                }
            }),
        };
        name.parse::<IpAddr>().is_ok()
            || name.eq_ignore_ascii_case("localhost")
            || self
                .hostname
                .as_deref()
                .is_some_and(|h| name.eq_ignore_ascii_case(h))
    }
}

impl Default for HttpGuard {
    fn default() -> Self {
        Self::new()
    }
}

/// The middleware refusing a request whose `Host` does not name this daemon (403).
pub(super) async fn check_host(State(state): State<HttpState>, req: Request, next: Next) -> Response {
    if let Some(host) = req.headers().get(HOST) {
        let ok = host.to_str().is_ok_and(|h| state.guard.host_allowed(h));
        if !ok {
            let shown: String = String::from_utf8_lossy(host.as_bytes())
                .chars()
                .filter(|c| !c.is_control())
                .take(100)
                .collect();
            tracing::debug!(host = ?shown, "request refused: Host is not this daemon");
            return ApiError::forbidden(format!(
                "Host \"{shown}\" is not this daemon: use its IP address, localhost or its host name"
            ))
            .into_response();
        }
    }
    next.run(req).await
}

/// Lets one event through per period and counts the others.
#[derive(Debug)]
pub struct LogLimiter {
    every: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl LogLimiter {
    /// At most one per `every`.
    pub fn new(every: Duration) -> Self {
        Self {
            every,
            last: None,
            suppressed: 0,
        }
    }

    /// `Some(n)`: log now, `n` events were not logged since the last; `None`: count it only.
    pub fn allow(&mut self, now: Instant) -> Option<u64> {
        if self.last.is_some_and(|t| now.duration_since(t) < self.every) {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wrong_token_is_logged_once_per_period_with_a_count() {
        let mut l = LogLimiter::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(l.allow(t0), Some(0));
        for ms in 1..=500 {
            assert_eq!(l.allow(t0 + Duration::from_millis(ms * 10)), None);
        }
        assert_eq!(l.allow(t0 + Duration::from_secs(10)), Some(500));
    }

    #[test]
    fn hosts_naming_the_daemon_are_allowed_and_others_not() {
        let g = HttpGuard::new();
        for ok in [
            "127.0.0.1:8080",
            "127.0.0.1",
            "[::1]:80",
            "10.1.2.3:8080",
            "localhost:8080",
            "LOCALHOST",
        ] {
            assert!(g.host_allowed(ok), "{ok}");
        }
        for bad in [
            "evil.example:8080",
            "evil.example",
            "127.0.0.1.evil.example:80",
            "localhost.evil.example",
        ] {
            assert!(!g.host_allowed(bad), "{bad}");
        }
    }
}
