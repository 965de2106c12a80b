//! The state task: the single writer of the daemon's state. It takes line events, runs them
//! through the ingest core, updates the live model and publishes changes. Keeping one writer
//! makes every state change ordered and lock-free for the hot path.
//!
//! It also feeds the alert engine (every verified frame proves a seat alive, every sample runs
//! the detectors), records the engine's changes in storage (the outbox row goes in the same
//! transaction as the alert), and carries out what alerts are for: a `Failover` order, repeated
//! until the seat's telemetry shows it in safe mode.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hemiwatch_protocol::{AuthError, Failover, Flags, Message, MessageKind, SeatId};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{SeatSettings, Settings};
use crate::alert::{AlertEngine, Change, Silence};
use crate::decode::flag_names;
use crate::detect::Sample;
use crate::ingest::{Ingest, Output, Rejection};
use crate::metrics::Metrics;
use crate::model::{AlertView, EventView, Live, Request, SeatStatus, Update};
use crate::source::{LineEvent, LineHandle, LineId};
use crate::storage::{Op, Restored, SampleRow, Storage, StoredSilence};

/// How often timers run: pings, silence checks, throttled publication.
const TICK: Duration = Duration::from_millis(crate::alert::TICK_MS);
/// A seat's temperature is republished to live views at most this often (status changes go out
/// at once), so 577 seats at 2 Hz do not flood the dashboard.
const PUBLISH_EVERY_MS: u64 = 1_000;
/// An unanswered `Failover` order is sent again this often until the seat's telemetry shows
/// `FAILOVER_ACTIVE`: a lost frame must not leave a seat about to overheat in service.
const FAILOVER_RETRY_MS: u64 = 1_000;
/// Ticks further apart than this mean the daemon itself was not running (an overloaded host, a
/// paused VM): frames may be waiting unread in the line buffers, so silence is not judged…
const STALL_MS: u64 = 1_000;
/// …until this long after the daemon runs again, time for the lines to deliver what queued up.
/// A stalled monitor must not page anyone about seats that were talking all along.
const STALL_GRACE_MS: u64 = 1_000;
/// Resolved alerts kept in the live model for the views (the engine keeps as many).
const RESOLVED_IN_MODEL: usize = 200;

struct SeatRuntime {
    settings: SeatSettings,
    last_published_ms: u64,
    dirty: bool,
    /// What the last sample alone says (alerts may raise it).
    sample_status: SeatStatus,
    /// A failover was ordered and the seat has not shown it yet.
    failover_wanted: bool,
    /// When the last order went out.
    failover_sent_ms: Option<u64>,
}

/// See the module docs.
pub struct StateTask {
    ingest: Ingest,
    live: Live,
    lines: Vec<LineHandle>,
    seats: HashMap<SeatId, SeatRuntime>,
    outputs: Vec<Output>,
    /// Samples of the batch of frames being applied, recorded together.
    samples: Vec<SampleRow>,
    storage: Storage,
    engine: AlertEngine,
    metrics: Arc<Metrics>,
    /// The previous tick (stall detection).
    last_tick_ms: Option<u64>,
    /// Silence is not judged before this time (after a stall).
    judge_silence_from_ms: u64,
}

impl StateTask {
    /// Prepares the task for the configured seats and lines, taking back the open alerts and
    /// silences storage restored.
    pub fn new(
        settings: &Settings,
        live: Live,
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
        {
            let mut model = live.model.write().unwrap_or_else(|p| p.into_inner());
            for a in engine.alerts() {
                model.alerts.insert(a.id, a.clone());
            }
        }
        let ingest = Ingest::new(settings.seats.iter().map(|s| (s.place.id, s.key.clone())));
        let seats = settings
            .seats
            .iter()
            .map(|s| {
                (
                    s.place.id,
                    SeatRuntime {
                        settings: s.clone(),
                        last_published_ms: 0,
                        dirty: false,
                        sample_status: SeatStatus::Unknown,
                        failover_wanted: false,
                        failover_sent_ms: None,
                    },
                )
            })
            .collect();
        let mut task = Self {
            ingest,
            live,
            lines,
            seats,
            outputs: Vec::new(),
            samples: Vec::new(),
            storage,
            engine,
            metrics,
            last_tick_ms: None,
            judge_silence_from_ms: 0,
        };
        let ids: Vec<SeatId> = task.seats.keys().copied().collect();
        task.refresh_status(&ids, now);
        task
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
        loop {
            tokio::select! {
                // Frames first: a tick must never judge silence while frames wait in the queue.
                biased;
                ev = events.recv() => match ev {
                    Some(ev) => self.on_line_event(ev, crate::unix_ms()),
                    None => break,
                },
                Some(req) = requests.recv() => self.on_request(req, crate::unix_ms()),
                _ = tick.tick() => self.on_tick(crate::unix_ms()),
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
                self.event(now, None, name, "line_up", "the line opened".into());
            }
            LineEvent::Down { line, reason } => {
                let name = self.line_name(line);
                if let Some(n) = &name {
                    self.engine.on_line(n, false, now);
                }
                self.event(now, None, name, "line_down", reason);
            }
            LineEvent::Frames { line, frames } => {
                for frame in frames.iter().flatten() {
                    self.ingest.on_frame(line, frame, now, &mut self.outputs);
                }
                let outputs = std::mem::take(&mut self.outputs);
                let mut sends = Vec::new();
                for o in outputs {
                    match o {
                        Output::Send { .. } => sends.push(o),
                        other => self.apply(other, now),
                    }
                }
                self.outputs = sends;
                if !self.samples.is_empty() {
                    store(&self.storage, Op::Samples(std::mem::take(&mut self.samples)));
                }
            }
        }
        self.process_changes(now);
        self.flush_outputs();
    }

    /// Records an event in storage (the seat panel's history and the audit trail).
    fn event(&self, at_ms: u64, seat: Option<SeatId>, line: Option<String>, kind: &str, detail: String) {
        store(
            &self.storage,
            Op::Event(EventView {
                at_ms,
                seat,
                line,
                kind: kind.into(),
                detail,
            }),
        );
    }

    fn line_name(&self, line: LineId) -> Option<String> {
        self.lines.get(line).map(|l| l.name.clone())
    }

    /// Folds one ingest output into the model.
    fn apply(&mut self, o: Output, now: u64) {
        let heard_on = match &o {
            Output::Hello { line, .. } | Output::Sample { line, .. } | Output::Rejected { line, .. } => {
                self.line_name(*line)
            }
            _ => None,
        };
        let mut model = self.live.model.write().unwrap_or_else(|p| p.into_inner());
        let seat_id = match &o {
            Output::Hello { seat, .. }
            | Output::SessionOpened { seat, .. }
            | Output::Sample { seat, .. }
            | Output::Event { seat, .. }
            | Output::Ack { seat, .. }
            | Output::Rejected { seat, .. } => *seat,
            Output::Send { .. } => return,
        };
        let Some(state) = model.seats.get_mut(&seat_id) else {
            if let Output::Rejected {
                reason: Rejection::UnknownSeat,
                ..
            } = o
            {
                tracing::debug!(seat = seat_id, "frame from an unconfigured seat");
            }
            return;
        };
        let Some(rt) = self.seats.get_mut(&seat_id) else {
            return;
        };
        let before = state.status;
        if !matches!(o, Output::Rejected { .. }) {
            // Any verified frame proves the seat alive.
            self.engine.on_heard(seat_id, heard_on.as_deref(), now);
        }
        match o {
            Output::Hello { hello, .. } => {
                self.engine.on_period(seat_id, u64::from(hello.period_ms));
                state.firmware = Some(format!(
                    "{}.{}.{}",
                    hello.firmware.major, hello.firmware.minor, hello.firmware.patch
                ));
                state.protocol = Some(format!(
                    "{}.{}",
                    hemiwatch_protocol::PROTOCOL_MAJOR,
                    hello.protocol_minor
                ));
                state.board = Some(format!("{:?}", hello.board));
                state.period_ms = Some(hello.period_ms);
                state.heard_on = heard_on;
                state.last_seen_ms = Some(now);
                store(
                    &self.storage,
                    Op::SeatSeen {
                        seat: seat_id,
                        boot_id: None,
                        firmware: state.firmware.clone(),
                        board: state.board.clone(),
                        at_ms: now,
                    },
                );
            }
            Output::SessionOpened {
                boot_id, new_boot, ..
            } => {
                if new_boot {
                    let (kind, detail) = if state.boot_id.is_some() {
                        state.counters.reboots += 1;
                        tracing::info!(seat = seat_id, boot_id, "seat rebooted");
                        ("seat_rebooted", format!("new boot identity {boot_id:#010x}"))
                    } else {
                        ("seat_booted", format!("boot identity {boot_id:#010x}"))
                    };
                    store(
                        &self.storage,
                        Op::Event(EventView {
                            at_ms: now,
                            seat: Some(seat_id),
                            line: state.heard_on.clone(),
                            kind: kind.into(),
                            detail,
                        }),
                    );
                    store(
                        &self.storage,
                        Op::SeatSeen {
                            seat: seat_id,
                            boot_id: Some(boot_id),
                            firmware: None,
                            board: None,
                            at_ms: now,
                        },
                    );
                }
                state.boot_id = Some(boot_id);
            }
            Output::Sample { telemetry, lost, .. } => {
                state.temps_c = telemetry.temps.iter().map(|c| f64::from(*c) / 100.0).collect();
                state.supply_mv = Some(telemetry.supply_mv);
                state.flags = flag_names(telemetry.flags)
                    .into_iter()
                    .map(String::from)
                    .collect();
                state.uptime_min = Some(telemetry.uptime_min);
                state.last_seen_ms = Some(now);
                state.heard_on = heard_on;
                state.counters.frames += 1;
                state.counters.lost += u64::from(lost);
                rt.sample_status = status_from_sample(&rt.settings, &telemetry.flags, &state.temps_c);
                if telemetry.flags.contains(Flags::FAILOVER_ACTIVE) && rt.failover_wanted {
                    rt.failover_wanted = false;
                    tracing::info!(seat = seat_id, "seat reports failover active");
                }
                let started = Instant::now();
                self.engine
                    .on_sample(seat_id, Sample::from_telemetry(now, &telemetry));
                self.metrics
                    .detector_seconds
                    .observe(started.elapsed().as_secs_f64());
                if let Some(hottest) = telemetry.temps.iter().max() {
                    self.samples.push(SampleRow {
                        seat: seat_id,
                        t_ms: now,
                        temp_centi: *hottest,
                        flags: telemetry.flags.bits(),
                    });
                }
            }
            Output::Event { event, .. } => {
                tracing::info!(seat = seat_id, code = event.code.0, name = ?event.code.name(), detail = event.detail, "seat event");
                store(
                    &self.storage,
                    Op::Event(EventView {
                        at_ms: now,
                        seat: Some(seat_id),
                        line: state.heard_on.clone(),
                        kind: event.code.name().unwrap_or("seat_event").into(),
                        detail: format!("code {} detail {}", event.code.0, event.detail),
                    }),
                );
            }
            Output::Ack { ack, .. } => {
                // Pings are acknowledged every 2 s by every seat: worth a trace, not a log line.
                if ack.of == MessageKind::Ping as u8 {
                    tracing::trace!(seat = seat_id, counter = ack.counter, "ping acknowledged");
                } else if ack.of == MessageKind::Failover as u8 {
                    tracing::info!(seat = seat_id, status = ?ack.status, "seat acknowledged the failover");
                    store(
                        &self.storage,
                        Op::Event(EventView {
                            at_ms: now,
                            seat: Some(seat_id),
                            line: state.heard_on.clone(),
                            kind: "failover_acked".into(),
                            detail: format!("the seat answered {:?}", ack.status),
                        }),
                    );
                } else {
                    tracing::info!(seat = seat_id, counter = ack.counter, of = ack.of, status = ?ack.status, "seat acknowledged");
                }
            }
            Output::Rejected { reason, .. } => match reason {
                Rejection::Auth(AuthError::BadMac) => state.counters.bad_mac += 1,
                Rejection::Auth(AuthError::Replay) => state.counters.replays += 1,
                _ => state.counters.rejected += 1,
            },
            Output::Send { .. } => {}
        }
        state.status = combined_status(rt.sample_status, self.engine.status(seat_id));
        rt.dirty = true;
        if state.status != before || now.saturating_sub(rt.last_published_ms) >= PUBLISH_EVERY_MS {
            rt.last_published_ms = now;
            rt.dirty = false;
            let _ = self.live.updates.send(Update::Seat(Box::new(state.clone())));
        }
    }

    /// Runs the timers: pings, silence checks, throttled publication (public for the ingest
    /// benchmark, like [`Self::on_line_event`]).
    pub fn on_tick(&mut self, now: u64) {
        self.ingest.tick(now, &mut self.outputs);
        let gap = self.last_tick_ms.map_or(0, |t| now.saturating_sub(t));
        self.last_tick_ms = Some(now);
        if gap > STALL_MS {
            self.metrics.stalls.inc();
            self.judge_silence_from_ms = now + STALL_GRACE_MS;
            tracing::warn!(
                gap_ms = gap,
                "the daemon itself was not running for {gap} ms; silence checks resume in {STALL_GRACE_MS} ms"
            );
        }
        if now >= self.judge_silence_from_ms {
            self.engine.tick(now);
        }
        self.process_changes(now);
        self.retry_failovers(now);
        self.flush_outputs();
        let model = self.live.model.read().unwrap_or_else(|p| p.into_inner());
        for (id, rt) in &mut self.seats {
            if rt.dirty && now.saturating_sub(rt.last_published_ms) >= PUBLISH_EVERY_MS {
                if let Some(state) = model.seats.get(id) {
                    let _ = self.live.updates.send(Update::Seat(Box::new(state.clone())));
                }
                rt.dirty = false;
                rt.last_published_ms = now;
            }
        }
    }

    fn on_request(&mut self, req: Request, now: u64) {
        match req {
            Request::Ack {
                id,
                by,
                comment,
                reply,
            } => {
                let answer = self.engine.ack(id, &by, &comment, now);
                if let Ok(a) = &answer {
                    tracing::info!(alert = a.id, kind = a.kind, by, "alert acknowledged");
                }
                self.process_changes(now);
                let _ = reply.send(answer);
            }
            Request::Silence {
                matcher,
                until_ms,
                by,
                comment,
                reply,
            } => {
                let answer = self
                    .engine
                    .silence(matcher, until_ms, &by, &comment, now)
                    .map(|s| {
                        tracing::info!(silence = s.id, until_ms, by, "silence set");
                        s.id
                    });
                self.process_changes(now);
                let _ = reply.send(answer);
            }
        }
        self.flush_outputs();
    }

    /// Records, publishes and acts on what the alert engine decided.
    fn process_changes(&mut self, now: u64) {
        let changes = self.engine.drain();
        if changes.is_empty() {
            return;
        }
        let mut touched = BTreeSet::new();
        for change in changes {
            match change {
                Change::Alert {
                    view,
                    notify,
                    failover,
                } => {
                    tracing::info!(
                        alert = view.id,
                        kind = view.kind,
                        seat = view.seat,
                        line = view.line,
                        state = view.state,
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
                    self.publish_alert(&view);
                    store(&self.storage, Op::Alert { view, notify });
                }
                Change::Silence(s) => match serde_json::to_value(&s) {
                    Ok(v) => store(
                        &self.storage,
                        Op::Silence(StoredSilence {
                            id: s.id,
                            until_ms: s.until_ms,
                            view: v,
                        }),
                    ),
                    Err(e) => tracing::error!(silence = s.id, error = %e, "silence not serializable"),
                },
            }
        }
        let touched: Vec<SeatId> = touched.into_iter().collect();
        self.refresh_status(&touched, now);
    }

    /// Puts an alert's view into the live model (keeping a bounded tail of resolved ones) and
    /// tells the live views.
    fn publish_alert(&self, view: &AlertView) {
        let mut model = self.live.model.write().unwrap_or_else(|p| p.into_inner());
        model.alerts.insert(view.id, view.clone());
        let resolved: Vec<i64> = model
            .alerts
            .values()
            .filter(|a| a.state == "resolved")
            .map(|a| a.id)
            .collect();
        if resolved.len() > RESOLVED_IN_MODEL {
            for id in &resolved[..resolved.len() - RESOLVED_IN_MODEL] {
                model.alerts.remove(id);
            }
        }
        let _ = self.live.updates.send(Update::Alert(Box::new(view.clone())));
    }

    /// Recomputes the status of `seats` from their last sample and the open alerts, and
    /// publishes those that changed.
    fn refresh_status(&mut self, seats: &[SeatId], now: u64) {
        let mut model = self.live.model.write().unwrap_or_else(|p| p.into_inner());
        for seat in seats {
            let (Some(state), Some(rt)) = (model.seats.get_mut(seat), self.seats.get_mut(seat)) else {
                continue;
            };
            let status = combined_status(rt.sample_status, self.engine.status(*seat));
            if status != state.status {
                state.status = status;
                rt.last_published_ms = now;
                rt.dirty = false;
                let _ = self.live.updates.send(Update::Seat(Box::new(state.clone())));
            }
        }
    }

    /// Orders a seat into failover now and until its telemetry shows it.
    fn order_failover(&mut self, seat: SeatId, now: u64) {
        let Some(rt) = self.seats.get_mut(&seat) else {
            return;
        };
        if rt.failover_wanted {
            return;
        }
        rt.failover_wanted = true;
        rt.failover_sent_ms = None;
        tracing::warn!(seat, "failover ordered");
        self.event(
            now,
            Some(seat),
            None,
            "failover_ordered",
            "the seat is told to switch to its standby".into(),
        );
        self.send_failover(seat, now);
    }

    fn retry_failovers(&mut self, now: u64) {
        let due: Vec<SeatId> = self
            .seats
            .iter()
            .filter(|(_, rt)| {
                rt.failover_wanted
                    && rt
                        .failover_sent_ms
                        .is_none_or(|t| now.saturating_sub(t) >= FAILOVER_RETRY_MS)
            })
            .map(|(id, _)| *id)
            .collect();
        for seat in due {
            self.send_failover(seat, now);
        }
    }

    fn send_failover(&mut self, seat: SeatId, now: u64) {
        let Some(rt) = self.seats.get_mut(&seat) else {
            return;
        };
        rt.failover_sent_ms = Some(now);
        match self
            .ingest
            .command(seat, &Message::Failover(Failover { active: true }), now)
        {
            Ok((counter, send)) => {
                tracing::debug!(seat, counter, "failover sent");
                self.outputs.push(send);
            }
            // Not reachable now (no session yet, never heard): the retry timer tries again.
            Err(e) => tracing::debug!(seat, error = %e, "failover not sent yet"),
        }
    }

    fn flush_outputs(&mut self) {
        for o in self.outputs.drain(..) {
            if let Output::Send { line, bytes } = o {
                if let Some(l) = self.lines.get(line) {
                    // A full queue means the line is wedged; dropping a ping beats stalling ingest.
                    let _ = l.outbound.try_send(bytes);
                }
            }
        }
    }
}

/// Records in storage; a refusal is logged (the writer logs why it stopped).
fn store(storage: &Storage, op: Op) {
    if let Err(e) = storage.record(op) {
        tracing::error!(error = %e, "storage refused a record");
    }
}

/// A seat shows the worse of what its last sample says and what its open alerts say; a seat
/// never heard and without alerts stays `unknown`.
fn combined_status(sample: SeatStatus, alerts: Option<SeatStatus>) -> SeatStatus {
    alerts.map_or(sample, |a| a.max(sample))
}

/// The status a sample alone implies (alerts may raise it further).
fn status_from_sample(settings: &SeatSettings, flags: &Flags, temps_c: &[f64]) -> SeatStatus {
    if flags.contains(Flags::SENSOR_FAULT) {
        SeatStatus::SensorFault
    } else if flags.safe_mode() {
        SeatStatus::FailoverActive
    } else if temps_c.iter().any(|t| *t >= settings.warn_c) {
        SeatStatus::Warm
    } else {
        SeatStatus::Ok
    }
}

impl std::fmt::Debug for StateTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StateTask")
            .field("seats", &self.seats.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, RwLock};
    use std::time::Duration;

    use tokio::sync::{broadcast, mpsc};

    use super::*;
    use crate::daemon::{initial_model, LineSettings};
    use crate::model::SeatPlace;
    use crate::source::Endpoint;
    use crate::storage::StorageSettings;

    /// A daemon that was itself not running for 5 s does not call its seats silent for it: the
    /// silence checks wait until the lines have had a second to deliver what queued up, and the
    /// stall is counted. (Here nothing ever speaks, so once they resume the seats are silent.)
    #[test]
    fn a_stalled_daemon_holds_its_silence_checks_back() {
        let dir = tempfile::tempdir().unwrap();
        let seats: Vec<SeatSettings> = (1..=3)
            .map(|id| SeatSettings {
                place: SeatPlace {
                    id,
                    label: format!("S{id}"),
                    sector: "A".into(),
                    row: 1,
                    position: id,
                    line: Some("a".into()),
                },
                key: None,
                warn_c: 70.0,
                critical_c: 85.0,
                horizon_s: 300,
                period_ms: 500,
            })
            .collect();
        let settings = Settings {
            lines: vec![LineSettings {
                name: "a".into(),
                endpoint: Endpoint::parse("/dev/null", 115_200).unwrap(),
            }],
            http_bind: "127.0.0.1:0".parse().unwrap(),
            api_token: None,
            database: dir.path().join("t.sqlite"),
            raw_retention: Duration::from_secs(3600),
            rollup_retention: Duration::from_secs(3600),
            flush_interval: Duration::from_secs(1),
            sinks: Vec::new(),
            seats,
        };
        let (storage, restored, writer) = Storage::open(
            &StorageSettings {
                path: settings.database.clone(),
                raw_retention: settings.raw_retention,
                rollup_retention: settings.rollup_retention,
                flush_interval: settings.flush_interval,
                sinks: Vec::new(),
            },
            Arc::new(tokio::sync::Notify::new()),
        )
        .unwrap();
        let (updates, _keep) = broadcast::channel(1024);
        let (requests, _rx) = mpsc::channel(1);
        let live = Live {
            model: Arc::new(RwLock::new(initial_model(&settings.seats))),
            updates,
            requests,
        };
        let metrics = Arc::new(Metrics::new());
        let t0 = crate::unix_ms();
        let mut task = StateTask::new(
            &settings,
            live.clone(),
            Vec::new(),
            storage.clone(),
            &restored,
            metrics.clone(),
        );
        let alerts = |live: &Live| live.model.read().unwrap().alerts.len();
        // Ticking normally through the start-up grace: nothing.
        for t in (0..=9_000).step_by(100) {
            task.on_tick(t0 + t);
        }
        assert_eq!(alerts(&live), 0);
        // 5 s without a tick (the daemon was not scheduled), then ticking again.
        for t in (14_000..15_000).step_by(100) {
            task.on_tick(t0 + t);
            assert_eq!(alerts(&live), 0, "judged silence {} ms after a stall", t - 14_000);
        }
        assert_eq!(metrics.stalls.get(), 1);
        task.on_tick(t0 + 15_000);
        assert!(alerts(&live) > 0, "silence checks resumed after the grace");
        drop(task);
        storage.close();
        writer.join().unwrap();
    }
}
