//! The state task: the single writer of the daemon's state, and the router of everything that
//! reaches it. Line events go through the ingest core; what ingest verified updates the model
//! ([`super::seat_update`]); the alert engine's changes are recorded ([`super::records`]),
//! published ([`super::publish`]) and acted on ([`super::failover`]); the tick runs the timers,
//! unless the daemon itself was stalled ([`super::stall`]). Keeping one writer makes every state
//! change ordered and lock-free for the hot path.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use hemiwatch_protocol::SeatId;
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use super::clock::Clock;
use super::records::store;
use super::seat_update::TrackedSeat;
use super::selfwatch::SelfWatch;
use super::stall::StallGuard;
use super::systemd::Watchdog;
use super::{SeatSettings, Settings};
use crate::alert::{AlertChange, AlertEngine, EventKind, Kind, Silence};
use crate::ingest::{Ingest, IngestEvent};
use crate::metrics::Metrics;
use crate::model::{LiveModel, Request, RequestError, Written};
use crate::source::{LineEvent, LineHandle, LineId};
use crate::storage::{Record, Restored, SampleRow, Storage, StorageError};

/// How often timers run: pings, silence checks, throttled publication.
const TICK: Duration = Duration::from_millis(crate::alert::TICK_MS);

/// See the module docs.
pub struct StateTask {
    /// Sessions and verification of every configured seat.
    pub(super) ingest: Ingest,
    /// The model this task alone writes, and the broadcast of its changes.
    pub(super) live: LiveModel,
    /// Lines, by [`LineId`], for their names and outbound queues.
    pub(super) lines: Vec<LineHandle>,
    /// What the task tracks per seat beyond the model (publication, failover).
    pub(super) seats: HashMap<SeatId, TrackedSeat>,
    /// Frames ingest or a failover order wants written, sent at the end of each step.
    pub(super) outbound: Vec<IngestEvent>,
    /// What ingest made of the current batch of frames (kept to reuse its allocation).
    batch: Vec<IngestEvent>,
    /// Samples of the batch of frames being applied, recorded together.
    pub(super) samples: Vec<SampleRow>,
    /// Where records go.
    pub(super) storage: Storage,
    /// The alert engine this task feeds.
    pub(super) engine: AlertEngine,
    /// Where detector timings and stalls are counted.
    pub(super) metrics: Arc<Metrics>,
    /// Holds silence judgement back after the daemon itself stalled.
    pub(super) stall: StallGuard,
    /// Judges the daemon's own lateness and storage backlog.
    selfwatch: SelfWatch,
    /// How late the current tick fired.
    tick_lag: Duration,
    /// systemd's watchdog, petted from the tick while the task is on time.
    watchdog: Watchdog,
    /// The outbox's per-sink state, for `sink_failing` (set by [`Self::watch_sinks`]).
    sinks: Option<Arc<crate::sink::outbox::OutboxCounters>>,
    /// The wall clock minus the detection clock, ms, read at each step: what turns a detection
    /// time into the stamp stored and shown ([`Self::stamp`]). 0 until the wall clock steps.
    pub(super) wall_offset_ms: i64,
}

impl StateTask {
    /// Prepares the task for the configured seats and lines, taking back the open alerts and
    /// silences storage restored.
    pub fn new(
        settings: &Settings,
        live: LiveModel,
        lines: Vec<LineHandle>,
        storage: Storage,
        restored: &Restored,
        metrics: Arc<Metrics>,
    ) -> Self {
        let now = crate::unix_ms();
        let mut engine = AlertEngine::new(
            settings.seats.iter().map(SeatSettings::rules),
            now,
            restored.max_alert_id,
        );
        let silences = restored
            .silences
            .iter()
            .filter_map(|s| match serde_json::from_value::<Silence>(s.view.clone()) {
                Ok(v) => Some(v),
                Err(e) => {
                    tracing::warn!(silence = s.id, error = %e, "stored silence unreadable; dropped");
                    None
                }
            })
            .collect();
        engine.restore(restored.open_alerts.clone(), silences, restored.max_silence_id);
        if let Some(r) = &restored.recovery {
            engine.on_storage_recovered(&r.describe(), now);
        }
        {
            let mut model = live.model.write().unwrap_or_else(|p| p.into_inner());
            for a in engine.alerts() {
                model.alerts.insert(a.id, a.clone());
            }
        }
        let mut ingest = Ingest::new(settings.seats.iter().map(|s| (s.place.id, s.key.clone())));
        for s in &settings.seats {
            ingest.set_period(s.place.id, s.period_ms);
        }
        ingest.remember_boots(restored.hellos.iter().copied());
        let seats = settings
            .seats
            .iter()
            .map(|s| (s.place.id, TrackedSeat::new()))
            .collect();
        let mut task = Self {
            ingest,
            live,
            lines,
            seats,
            outbound: Vec::new(),
            batch: Vec::new(),
            samples: Vec::new(),
            storage,
            engine,
            metrics,
            stall: StallGuard::default(),
            selfwatch: SelfWatch::default(),
            tick_lag: Duration::ZERO,
            watchdog: Watchdog::from_env(),
            sinks: None,
            wall_offset_ms: 0,
        };
        let ids: Vec<SeatId> = task.seats.keys().copied().collect();
        task.refresh_status(&ids, now);
        task
    }

    /// Raises `sink_failing` from the outbox's counters while a sink keeps failing.
    pub fn watch_sinks(mut self, counters: Arc<crate::sink::outbox::OutboxCounters>) -> Self {
        self.sinks = Some(counters);
        self
    }

    /// Runs until shutdown and the lines have stopped.
    pub async fn run(
        mut self,
        mut events: mpsc::Receiver<LineEvent>,
        mut requests: mpsc::Receiver<Request>,
        shutdown: CancellationToken,
    ) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let started = tokio::time::Instant::now();
        let mut clock = Clock::new(crate::unix_ms());
        let mono = move || started.elapsed().as_millis() as u64;
        // Detection time, and the wall clock's offset from it for the stamps.
        let now = |task: &mut Self, clock: &Clock| {
            let now = clock.now(mono());
            task.wall_offset_ms = crate::unix_ms() as i64 - now as i64;
            now
        };
        loop {
            tokio::select! {
                // Frames first: a tick must never judge silence while frames wait in the queue.
                biased;
                ev = events.recv() => match ev {
                    Some(ev) => {
                        let now = now(&mut self, &clock);
                        self.on_line_event(ev, now)
                    }
                    None => break,
                },
                Some(req) = requests.recv() => {
                    let now = now(&mut self, &clock);
                    self.on_request(req, now)
                }
                due = tick.tick() => {
                    let now = now(&mut self, &clock);
                    let m = mono();
                    if let Some(step) = clock.check(m, crate::unix_ms()) {
                        self.clock_stepped(step.by_ms, now);
                    }
                    self.tick_lag = due.elapsed();
                    self.metrics.tick(self.tick_lag, now);
                    self.on_tick(now);
                }
                _ = shutdown.cancelled(), if events.is_closed() => break,
            }
        }
    }

    /// Folds one line event into the state (public for the ingest benchmark, which drives the
    /// state task without a runtime).
    pub fn on_line_event(&mut self, ev: LineEvent, now: u64) {
        match ev {
            LineEvent::Up { line } => {
                let name = self.line_name(line);
                if let Some(n) = &name {
                    self.engine.on_line(n, true, now);
                }
                self.record_event(now, None, name, EventKind::LineUp, "the line opened".into());
            }
            LineEvent::Down { line, reason } => {
                let name = self.line_name(line);
                if let Some(n) = &name {
                    self.engine.on_line(n, false, now);
                }
                self.record_event(now, None, name, EventKind::LineDown, reason);
            }
            LineEvent::Frames { line, frames } => {
                let mut batch = std::mem::take(&mut self.batch);
                for frame in frames.iter().flatten() {
                    self.ingest.on_frame(line, frame, now, &mut batch);
                }
                for ev in batch.drain(..) {
                    match ev {
                        IngestEvent::Send { .. } => self.outbound.push(ev),
                        other => self.apply(other, now),
                    }
                }
                self.batch = batch;
                if !self.samples.is_empty() {
                    store(&self.storage, Record::Samples(std::mem::take(&mut self.samples)));
                }
            }
        }
        self.apply_alert_changes(now);
        self.flush_outbound();
    }

    /// Runs the timers: overdue-telemetry probes, session resets, silence checks, failover
    /// retries, throttled publication (public
    /// for the ingest benchmark, like [`Self::on_line_event`]).
    pub fn on_tick(&mut self, now: u64) {
        let mut ticked = std::mem::take(&mut self.batch);
        self.ingest.tick(now, &mut ticked);
        for ev in ticked.drain(..) {
            match ev {
                IngestEvent::Send { .. } => self.outbound.push(ev),
                other => self.apply(other, now),
            }
        }
        self.batch = ticked;
        if self.stall.judge_silence(now, &self.metrics) {
            self.engine.tick(now);
        }
        let counters = self.storage.counters();
        let failing = counters.failing();
        self.engine
            .on_storage(failing.as_ref().map(|(_, why)| why.as_str()), now);
        let queued = counters.queued.load(std::sync::atomic::Ordering::Relaxed);
        let verdict = self.selfwatch.judge(now, self.tick_lag, queued);
        self.watchdog.tick(now, verdict.stalled.is_none());
        self.engine
            .on_daemon_health(Kind::DaemonStalled, verdict.stalled.as_deref(), now);
        self.engine
            .on_daemon_health(Kind::StorageBacklog, verdict.backlog.as_deref(), now);
        if let Some(sinks) = &self.sinks {
            let failing = sinks.failing_summary();
            self.engine
                .on_daemon_health(Kind::SinkFailing, failing.as_deref(), now);
        }
        self.apply_alert_changes(now);
        self.retry_failovers(now);
        self.flush_outbound();
        self.publish_throttled(now);
    }

    /// The wall clock stepped by `by_ms`: detection is unaffected (it runs on the monotonic
    /// clock); recorded, logged and counted.
    fn clock_stepped(&mut self, by_ms: i64, now: u64) {
        self.metrics.clock_steps.inc();
        let detail = format!(
            "the host's wall clock stepped {} by {:.1} s; detection runs on the monotonic clock and was not affected; stamps follow the wall clock",
            if by_ms > 0 { "forward" } else { "back" },
            by_ms.unsigned_abs() as f64 / 1e3
        );
        tracing::warn!(by_ms, "{detail}");
        self.record_event(now, None, None, EventKind::ClockStepped, detail);
    }

    /// Answers an API request (ack, silence) through the engine.
    fn on_request(&mut self, req: Request, now: u64) {
        match req {
            Request::Ack {
                id,
                by,
                comment,
                reply,
            } => {
                let answer = self
                    .engine
                    .ack(id, &by, &comment, now)
                    .map(|view| self.stamp_view(view));
                if let Ok(a) = &answer {
                    tracing::info!(alert = a.id, kind = %a.kind, by, "alert acknowledged");
                }
                self.apply_alert_changes(now);
                self.reply_once_committed(reply, answer);
            }
            Request::Silence {
                matcher,
                until_ms,
                by,
                comment,
                reply,
            } => {
                // The API's end is on the wall clock; the engine judges it on the detection clock.
                let until = until_ms.saturating_add_signed(-self.wall_offset_ms);
                let answer = self.engine.silence(matcher, until, &by, &comment, now).map(|s| {
                    tracing::info!(silence = s.id, until_ms, by, "silence set");
                    s.id
                });
                self.apply_alert_changes(now);
                self.reply_once_committed(reply, answer);
            }
        }
        self.flush_outbound();
    }

    /// Sends a write's answer once what it changed is committed, so that a 2xx survives a
    /// crash right after it (the state task itself does not wait for the commit); a write whose
    /// storage is gone is answered "unavailable".
    fn reply_once_committed<T: Send + 'static>(
        &self,
        reply: oneshot::Sender<Result<Written<T>, RequestError>>,
        answer: Result<T, RequestError>,
    ) {
        let storage = self.storage.clone();
        tokio::task::spawn_blocking(move || {
            let answer = match storage.flush() {
                Ok(()) => answer.map(|value| Written {
                    value,
                    committed: true,
                }),
                // Applied and kept in memory; written once storage works again.
                Err(StorageError::NotCommitted(why)) => {
                    tracing::warn!(error = %why, "a write answered before it could be committed: storage is failing");
                    answer.map(|value| Written {
                        value,
                        committed: false,
                    })
                }
                Err(e) => {
                    tracing::error!(error = %e, "storage gone before a write was committed");
                    Err(RequestError::Unavailable)
                }
            };
            let _ = reply.send(answer);
        });
    }

    /// Records, publishes and acts on what the alert engine decided.
    fn apply_alert_changes(&mut self, now: u64) {
        let changes = self.engine.drain();
        if changes.is_empty() {
            return;
        }
        let mut touched = BTreeSet::new();
        let mut published = Vec::new();
        for change in changes {
            match change {
                AlertChange::Alert {
                    view,
                    mut notify,
                    failover,
                } => {
                    let view = Box::new(self.stamp_view(*view));
                    if let Some(n) = &mut notify {
                        n.started_at_ms = self.stamp(n.started_at_ms);
                        n.resolved_at_ms = n.resolved_at_ms.map(|t| self.stamp(t));
                        n.predicted_critical_at_ms = n.predicted_critical_at_ms.map(|t| self.stamp(t));
                    }
                    tracing::info!(
                        alert = view.id,
                        kind = %view.kind,
                        seat = view.seat,
                        line = view.line,
                        state = %view.state,
                        "{}",
                        view.summary
                    );
                    if let Some(seat) = view.seat {
                        touched.insert(seat);
                    }
                    if let Some(line) = &view.line {
                        if view.seat.is_none() {
                            touched.extend(self.engine.line_seats(line).iter().copied());
                        }
                    }
                    if let Some(seat) = failover {
                        self.order_failover(seat, now);
                    }
                    published.push((*view).clone());
                    store(&self.storage, Record::Alert { view, notify });
                }
                AlertChange::Silence(s) => self.record_silence(&s),
                AlertChange::Failover(order) => {
                    tracing::warn!(
                        seat = order.seat,
                        asymptote_lo_c = order.prediction.asymptote_c.lo,
                        crossing_ms = order.prediction.crossing_ms,
                        "the seat is confidently going to overheat"
                    );
                    touched.insert(order.seat);
                    self.order_failover(order.seat, now);
                }
            }
        }
        if !published.is_empty() {
            self.publish_alerts_once_committed(published);
        }
        let touched: Vec<SeatId> = touched.into_iter().collect();
        self.refresh_status(&touched, now);
    }

    /// The stamp stored and shown for detection time `t`: the wall clock's reading for it.
    pub(super) fn stamp(&self, t: u64) -> u64 {
        t.saturating_add_signed(self.wall_offset_ms)
    }

    /// An alert view with its times on the wall clock (the engine keeps detection times).
    fn stamp_view(&self, mut view: crate::model::AlertView) -> crate::model::AlertView {
        view.started_at_ms = self.stamp(view.started_at_ms);
        view.updated_at_ms = self.stamp(view.updated_at_ms);
        view.predicted_critical_at_ms = view.predicted_critical_at_ms.map(|t| self.stamp(t));
        if let Some(a) = &mut view.ack {
            a.at_ms = self.stamp(a.at_ms);
        }
        view
    }

    /// The configured name of a line.
    pub(super) fn line_name(&self, line: LineId) -> Option<String> {
        self.lines.get(line).map(|l| l.name.clone())
    }

    /// Writes what is owed to the lines.
    fn flush_outbound(&mut self) {
        for ev in self.outbound.drain(..) {
            if let IngestEvent::Send { line, bytes } = ev {
                if let Some(l) = self.lines.get(line) {
                    // A full queue means the line is wedged; dropping a ping beats stalling ingest.
                    let _ = l.outbound.try_send(bytes);
                }
            }
        }
    }
}

impl std::fmt::Debug for StateTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateTask")
            .field("seats", &self.seats.len())
            .finish()
    }
}
