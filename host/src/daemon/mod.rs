//! `hemiwatch run`: wires lines, the ingest core, the state task, storage, alert sinks and the
//! HTTP server, and runs them until the shutdown trigger fires (SIGTERM/Ctrl-C in the CLI, a
//! token in tests), then stops them in order so that storage is flushed last.

mod state;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use hemiwatch_protocol::SeatKey;
use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use crate::model::{Hemicycle, Live, SeatPlace, SeatState};
use crate::source::{run_line, Endpoint, LineCounters, LineHandle};

pub use state::StateTask;

/// One line as the daemon runs it.
#[derive(Clone, Debug)]
pub struct LineSettings {
    /// Name from the config.
    pub name: String,
    /// Where to read.
    pub endpoint: Endpoint,
}

/// One seat as the daemon runs it: placement, key, thresholds.
#[derive(Clone, Debug)]
pub struct SeatSettings {
    /// Placement and label.
    pub place: SeatPlace,
    /// Its key; `None` only for unauthenticated development seats.
    pub key: Option<SeatKey>,
    /// Warn threshold, °C.
    pub warn_c: f64,
    /// Critical threshold, °C.
    pub critical_c: f64,
    /// Predicted-overheat horizon, seconds.
    pub horizon_s: u64,
    /// Expected telemetry period, ms (until the seat's Hello says otherwise).
    pub period_ms: u64,
}

/// Everything `run` needs, resolved from the config (files read, defaults applied).
#[derive(Clone, Debug)]
pub struct Settings {
    /// Serial lines.
    pub lines: Vec<LineSettings>,
    /// Configured seats.
    pub seats: Vec<SeatSettings>,
    /// Where the HTTP server listens.
    pub http_bind: SocketAddr,
    /// Bearer token for API writes.
    pub api_token: Option<String>,
    /// SQLite file.
    pub database: PathBuf,
    /// Raw samples are kept this long, then only 1-minute rollups (default 24 h).
    pub raw_retention: Duration,
    /// 1-minute rollups are kept this long (default 90 days).
    pub rollup_retention: Duration,
    /// Buffered samples are committed at least this often: the documented loss window of a
    /// `kill -9` (default 1 s).
    pub flush_interval: Duration,
    /// Where alert notifications are delivered (through the outbox).
    pub sinks: Vec<crate::sink::Sink>,
}

/// Errors that stop the daemon from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The HTTP server could not bind or failed.
    #[error("HTTP server: {0}")]
    Http(String),
    /// Storage could not be opened or written.
    #[error("storage: {0}")]
    Storage(String),
}

/// What a running daemon exposes to its embedder (the CLI prints it; tests use it).
#[derive(Clone)]
pub struct Running {
    /// The live model.
    pub live: Live,
    /// Line handles, in config order.
    pub lines: Vec<LineHandle>,
}

/// Builds the live model with every configured seat, status `unknown`.
pub fn initial_model(seats: &[SeatSettings]) -> Hemicycle {
    Hemicycle {
        seats: seats
            .iter()
            .map(|s| (s.place.id, SeatState::new(s.place.clone())))
            .collect(),
        alerts: Default::default(),
    }
}

/// Runs the daemon until `shutdown` is cancelled. `on_start` receives the running handles once
/// everything is listening (the CLI prints the dashboard URL from it).
pub async fn run(
    settings: Settings,
    shutdown: CancellationToken,
    on_start: impl FnOnce(&Running) + Send,
) -> Result<(), DaemonError> {
    let (updates, _) = broadcast::channel(4096);
    let (requests_tx, requests_rx) = mpsc::channel(64);
    let live = Live {
        model: Arc::new(RwLock::new(initial_model(&settings.seats))),
        updates,
        requests: requests_tx,
    };
    let (events_tx, events_rx) = mpsc::channel(1024);
    let mut tasks = tokio::task::JoinSet::new();
    let mut lines = Vec::new();
    for (id, l) in settings.lines.iter().enumerate() {
        let (out_tx, out_rx) = mpsc::channel(256);
        let handle = LineHandle {
            id,
            name: l.name.clone(),
            endpoint: l.endpoint.clone(),
            outbound: out_tx,
            counters: Arc::new(LineCounters::default()),
        };
        tasks.spawn(run_line(
            handle.clone(),
            out_rx,
            events_tx.clone(),
            shutdown.child_token(),
        ));
        lines.push(handle);
    }
    drop(events_tx);
    let running = Running {
        live: live.clone(),
        lines: lines.clone(),
    };
    let state = StateTask::new(&settings, live, lines);
    let state_shutdown = shutdown.clone();
    let state_done = tokio::spawn(state.run(events_rx, requests_rx, state_shutdown));
    on_start(&running);
    shutdown.cancelled().await;
    tracing::info!("shutting down");
    while tasks.join_next().await.is_some() {}
    // The state task ends when the lines have stopped and the shutdown fired; it flushes storage.
    let _ = state_done.await;
    tracing::info!("stopped");
    Ok(())
}
