//! `hemiwatch run`: wires lines, the ingest core, the state task, storage, alert sinks and the
//! HTTP server, and runs them until the shutdown trigger fires (SIGTERM/Ctrl-C in the CLI, a
//! token in tests), then stops them in order so that storage is flushed last.
//!
//! # Life of a frame
//!
//! One telemetry frame, from the serial port to a webhook:
//!
//! 1. `source/line.rs` reads the port, cuts COBS frames (CRC and layout checked) and sends the
//!    frames of one read as one [`LineEvent::Frames`](crate::source::LineEvent) to the state
//!    task;
//! 2. `daemon/task.rs` ([`StateTask::on_line_event`]) routes the batch through the ingest core;
//! 3. `ingest/mod.rs` authenticates each frame (session, MAC, anti-replay) and reports an
//!    [`IngestEvent::Sample`](crate::ingest::IngestEvent);
//! 4. `daemon/seat_update.rs` applies it to the seat's entry in the live model
//!    (`model.rs`), tells the alert engine the seat is alive and hands it the sample, and queues
//!    the console's channel (0) as a storage sample;
//! 5. `alert/watch.rs` runs the detectors (`detect/`) and `alert/lifecycle.rs` turns their
//!    signals into alert changes (with the notification owed and any failover to order);
//! 6. `daemon/task.rs` drains those changes: `daemon/failover.rs` orders the failover,
//!    `daemon/publish.rs` updates the model's alerts and broadcasts them (the dashboard's SSE
//!    stream, `http/sse.rs`), `daemon/records.rs` hands storage a
//!    [`Record::Alert`](crate::storage::Record);
//! 7. `storage/writer.rs` commits the alert and its outbox row in one transaction and rings the
//!    [`OutboxDoorbell`] (`storage/outbox.rs`);
//! 8. `sink/outbox.rs` wakes, reads the due rows and delivers them through `sink/webhook.rs`
//!    (or the Alertmanager and exec sinks), retrying with backoff until they are accepted.
//!
//! The state task's other jobs each have a file: `daemon/stall.rs` holds silence judgement back
//! after the daemon itself stalled; `daemon/selfwatch.rs` turns the daemon's own lateness and
//! storage backlog into alerts; `daemon/publish.rs` throttles seat publication.

mod clock;
mod failover;
#[cfg(test)]
mod link_attacks;
mod publish;
mod records;
mod seat_update;
mod selfwatch;
mod stall;
mod systemd;
mod task;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use tokio::sync::{broadcast, mpsc};
use tokio_util::sync::CancellationToken;

use crate::config::{SeatSettings, Settings};
use crate::model::{Hemicycle, LiveModel, SeatState};
use crate::sink::outbox::{run_outbox, OutboxCounters};
use crate::source::{run_line, LineCounters, LineHandle};
use crate::storage::{OutboxDoorbell, Record, Restored, Storage, StorageSettings};

pub use task::StateTask;

/// Errors that stop the daemon from starting or running.
#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    /// The HTTP server could not bind or failed.
    #[error("HTTP server: {0}")]
    Http(String),
    /// Storage could not be opened or written.
    #[error("storage: {0}")]
    Storage(String),
    /// A line's seats cannot be scheduled on it (see [`line_plan`]).
    #[error("line `{line}`: {why}")]
    Line {
        /// The line's name.
        line: String,
        /// Why.
        why: String,
    },
}

/// The bus schedule of a line ([`hemiwatch_protocol::bus::Plan`]): its seats are those placed on
/// it (seats placed on no line go on the first line, as the demo puts them), as one id range
/// from the lowest to the highest (a gap in the ids costs a `slot` of silence per round); its
/// round period is the shortest telemetry period of its seats (the round period *is* the
/// seats' telemetry period now); its timing is the line's baud rate and jitter budget.
pub fn line_plan(settings: &Settings, line: usize) -> Result<hemiwatch_protocol::bus::Plan, DaemonError> {
    use hemiwatch_protocol::bus::{FrameSizes, Plan, Timing};
    let l = &settings.lines[line];
    let err = |why: String| DaemonError::Line {
        line: l.name.clone(),
        why,
    };
    let first_line = line == 0;
    let seats: Vec<&SeatSettings> = settings
        .seats
        .iter()
        .filter(|s| match &s.place.line {
            Some(n) => *n == l.name,
            None => first_line,
        })
        .collect();
    let lo = seats.iter().map(|s| s.place.id).min().unwrap_or(1);
    let hi = seats.iter().map(|s| s.place.id).max().unwrap_or(1);
    let period_ms = seats
        .iter()
        .map(|s| s.period_ms)
        .min()
        .unwrap_or(crate::config::DEFAULT_PERIOD_MS as u64);
    let timing = Timing::with_jitter(l.baud, u64::from(l.jitter_us) * 1_000);
    Plan::with_timing(lo, hi - lo + 1, period_ms * 1_000_000, timing, FrameSizes::MEASURED).map_err(|e| {
        err(format!(
            "seats {lo}..={hi} every {period_ms} ms at {} baud with {} µs of jitter do not fit the line ({e:?}); \
             raise the period or the baud rate, or split the line",
            l.baud, l.jitter_us
        ))
    })
}

/// What a running daemon exposes to its embedder (the CLI prints it; tests use it).
#[derive(Clone)]
pub struct Running {
    /// The live model.
    pub live: LiveModel,
    /// Line handles, in config order.
    pub lines: Vec<LineHandle>,
    /// Storage (a handle: readers for history, counters for metrics).
    pub storage: Storage,
    /// Delivery counters of the outbox worker.
    pub outbox: Arc<OutboxCounters>,
    /// Where the HTTP server actually listens (the configured port may be 0 in tests).
    pub http_addr: SocketAddr,
    /// Metric handles (detector and storage timings are observed into these).
    pub metrics: Arc<crate::metrics::Metrics>,
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
    // Lines that cannot be scheduled stop the start before anything is opened.
    // A fresh epoch per start: the seats re-open their sessions with this daemon.
    let epoch: u8 = rand::random();
    let mut buses = Vec::new();
    for id in 0..settings.lines.len() {
        let plan = line_plan(&settings, id)?;
        tracing::info!(
            line = %settings.lines[id].name,
            seats = plan.seats,
            rounds = plan.rounds,
            utilisation_pct = plan.utilisation_ppm() as f64 / 1e4,
            command_latency_ms = plan.command_latency_ns() as f64 / 1e6,
            "bus schedule"
        );
        buses.push(crate::source::LineBus::new(plan, 0, epoch));
    }
    let doorbell = OutboxDoorbell::new();
    let storage_settings = StorageSettings {
        path: settings.database.clone(),
        raw_retention: settings.raw_retention,
        rollup_retention: settings.rollup_retention,
        flush_interval: settings.flush_interval,
        sinks: settings.sinks.iter().map(|s| s.name.clone()).collect(),
    };
    let (storage, restored, storage_thread) = {
        let doorbell = doorbell.clone();
        tokio::task::spawn_blocking(move || Storage::open(&storage_settings, doorbell))
            .await
            .map_err(|e| DaemonError::Storage(e.to_string()))?
            .map_err(|e| DaemonError::Storage(format!("{}: {e}", settings.database.display())))?
    };
    storage
        .record(Record::Seats(
            settings.seats.iter().map(|s| s.place.clone()).collect(),
        ))
        .map_err(|e| DaemonError::Storage(e.to_string()))?;
    let mut model = initial_model(&settings.seats);
    restore_seats(&mut model, &restored);
    // Bind early: a taken port must fail the start, not a background task.
    let listener = tokio::net::TcpListener::bind(settings.http_bind)
        .await
        .map_err(|e| DaemonError::Http(format!("cannot listen on {}: {e}", settings.http_bind)))?;
    let http_addr = listener
        .local_addr()
        .map_err(|e| DaemonError::Http(e.to_string()))?;
    let metrics = Arc::new(crate::metrics::Metrics::new());

    let (updates, _) = broadcast::channel(4096);
    let (requests_tx, requests_rx) = mpsc::channel(64);
    let live = LiveModel {
        model: Arc::new(RwLock::new(model)),
        updates,
        requests: requests_tx,
    };
    let (events_tx, events_rx) = mpsc::channel(1024);
    let mut tasks = tokio::task::JoinSet::new();
    let mut lines = Vec::new();
    for ((id, l), bus) in settings.lines.iter().enumerate().zip(buses) {
        let (out_tx, out_rx) = mpsc::channel(256);
        let handle = LineHandle {
            renew_epoch: Default::default(),
            id,
            name: l.name.clone(),
            endpoint: l.endpoint.clone(),
            outbound: out_tx,
            counters: Arc::new(LineCounters::default()),
        };
        tasks.spawn(run_line(
            handle.clone(),
            bus,
            out_rx,
            events_tx.clone(),
            shutdown.child_token(),
        ));
        lines.push(handle);
    }
    drop(events_tx);

    let outbox_counters = Arc::new(OutboxCounters::default());
    let outbox_shutdown = CancellationToken::new();
    let outbox_task = if settings.sinks.is_empty() {
        None
    } else {
        let store = storage
            .outbox()
            .map_err(|e| DaemonError::Storage(e.to_string()))?;
        Some(tokio::spawn(run_outbox(
            Arc::new(Mutex::new(store)),
            settings.sinks.clone(),
            doorbell.clone(),
            storage.held().clone(),
            outbox_counters.clone(),
            outbox_shutdown.clone(),
        )))
    };

    let http_state = crate::http::HttpState {
        live: live.clone(),
        lines: lines.clone(),
        api_token: settings.api_token.clone(),
        history: Some(Arc::new(crate::http::StorageHistory::new(storage.clone()))),
        metrics: metrics.clone(),
        storage_counters: Some(storage.counters().clone()),
        outbox_counters: Some(outbox_counters.clone()),
        shutdown: shutdown.clone(),
        guard: crate::http::HttpGuard::new(),
    };
    let http_task = tokio::spawn(crate::http::serve(listener, http_state, shutdown.clone()));
    let running = Running {
        live: live.clone(),
        lines: lines.clone(),
        storage: storage.clone(),
        outbox: outbox_counters,
        http_addr,
        metrics: metrics.clone(),
    };
    let (settings_seats, settings_lines) = (settings.seats.len(), settings.lines.len());
    let state = StateTask::new(&settings, live, lines, storage.clone(), &restored, metrics)
        .watch_sinks(running.outbox.clone());
    // READY=1 before the state task runs: its first tick pets the watchdog, and systemd must
    // hear the daemon is up before its first pet (on two loaded cores the task's tick came
    // first; server_room.rs caught it). Requests that arrive meanwhile wait in its channel.
    on_start(&running);
    systemd::ready(&format!(
        "monitoring {} seats on {} lines; dashboard http://{http_addr}/",
        settings_seats, settings_lines
    ));
    let state_shutdown = shutdown.clone();
    let state_done = tokio::spawn(state.run(events_rx, requests_rx, state_shutdown));
    shutdown.cancelled().await;
    tracing::info!("shutting down");
    systemd::stopping();
    // The HTTP server stops first (SSE streams end on the same token), so no request reaches a
    // stopping state task; a stuck client cannot hold the shutdown for more than 5 s.
    match tokio::time::timeout(Duration::from_secs(5), http_task).await {
        Ok(Ok(Err(e))) => tracing::warn!(error = %e, "HTTP server stopped with an error"),
        Err(_) => tracing::warn!("HTTP server did not stop within 5 s"),
        _ => {}
    }
    while tasks.join_next().await.is_some() {}
    // The state task ends once the lines have stopped; dropping the last storage handle makes
    // the writer commit what it holds and close the file.
    let _ = state_done.await;
    storage.close();
    // Notifications still owed stay in the outbox for the next start.
    outbox_shutdown.cancel();
    if let Some(t) = outbox_task {
        let _ = t.await;
    }
    let _ = tokio::task::spawn_blocking(move || storage_thread.join()).await;
    tracing::info!("stopped");
    Ok(())
}

/// Puts what storage remembers of each seat (boot, firmware, last seen) into a fresh model, so
/// a restarted daemon shows the last known facts and detects a reboot across its own restart.
fn restore_seats(model: &mut Hemicycle, restored: &Restored) {
    for r in &restored.seats {
        if let Some(s) = model.seats.get_mut(&r.id) {
            s.boot_id = r.boot_id;
            s.firmware = r.firmware.clone();
            s.board = r.board.clone();
            s.last_seen_ms = r.last_seen_ms;
        }
    }
}
