//! The state task: the single writer of the daemon's state. It takes line events, runs them
//! through the ingest core, updates the live model and publishes changes. Keeping one writer
//! makes every state change ordered and lock-free for the hot path.

use std::collections::HashMap;
use std::time::Duration;

use hemiwatch_protocol::{AuthError, Flags, SeatId};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{SeatSettings, Settings};
use crate::decode::flag_names;
use crate::ingest::{Ingest, Output, Rejection};
use crate::model::{EventView, Live, Request, RequestError, SeatStatus, Update};
use crate::source::{LineEvent, LineHandle, LineId};
use crate::storage::{Op, Storage};

/// How often timers run: pings, silence checks, throttled publication.
const TICK: Duration = Duration::from_millis(100);
/// A seat's temperature is republished to live views at most this often (status changes go out
/// at once), so 577 seats at 2 Hz do not flood the dashboard.
const PUBLISH_EVERY_MS: u64 = 1_000;

struct SeatRuntime {
    settings: SeatSettings,
    last_published_ms: u64,
    dirty: bool,
}

/// See the module docs.
pub struct StateTask {
    ingest: Ingest,
    live: Live,
    lines: Vec<LineHandle>,
    seats: HashMap<SeatId, SeatRuntime>,
    outputs: Vec<Output>,
    storage: Storage,
}

impl StateTask {
    /// Prepares the task for the configured seats and lines.
    pub fn new(settings: &Settings, live: Live, lines: Vec<LineHandle>, storage: Storage) -> Self {
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
                    },
                )
            })
            .collect();
        Self {
            ingest,
            live,
            lines,
            seats,
            outputs: Vec::new(),
            storage,
        }
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
                ev = events.recv() => match ev {
                    Some(ev) => self.on_line_event(ev, crate::unix_ms()),
                    None => break,
                },
                Some(req) = requests.recv() => self.on_request(req),
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
                self.event(now, None, name, "line_up", "the line opened".into());
            }
            LineEvent::Down { line, reason } => {
                let name = self.line_name(line);
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
            }
        }
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
        match o {
            Output::Hello { hello, .. } => {
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
                state.status = status_from_sample(&rt.settings, &telemetry.flags, &state.temps_c);
                if let Some(hottest) = telemetry.temps.iter().max() {
                    store(
                        &self.storage,
                        Op::Sample {
                            seat: seat_id,
                            t_ms: now,
                            temp_centi: *hottest,
                            flags: telemetry.flags.bits(),
                        },
                    );
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
                if ack.of == hemiwatch_protocol::MessageKind::Ping as u8 {
                    tracing::trace!(seat = seat_id, counter = ack.counter, "ping acknowledged");
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

    fn on_request(&mut self, req: Request) {
        match req {
            Request::Ack { id, reply, .. } => {
                let _ = reply.send(Err(RequestError::NoSuchAlert(id)));
            }
            Request::Silence { reply, .. } => {
                let _ = reply.send(Err(RequestError::Unavailable));
            }
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
