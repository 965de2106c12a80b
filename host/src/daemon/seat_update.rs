//! Seat updates: what ingest verified, applied to the seat's entry in the live model (firmware,
//! boot, temperatures, counters), to the alert engine (the seat is alive, its sample runs the
//! detectors) and to storage (seat facts, events, samples), then the seat's status recomputed
//! and published.

use std::time::Instant;

use hemiwatch_protocol::{AuthError, Flags, MessageKind};

use super::publish::publish_seat;
use super::records::{store, store_event};
use super::task::StateTask;
use crate::alert::EventKind;
use crate::decode::flag_names;
use crate::detect::Sample;
use crate::ingest::{IngestEvent, Rejection, ResyncReason, RESYNC_AFTER_BAD_MACS, RESYNC_AFTER_PERIODS};
use crate::model::SeatStatus;
use crate::storage::{Record, SampleRow};

/// What the state task tracks about a seat beyond the model.
pub(super) struct TrackedSeat {
    /// When it was last published to live views.
    pub(super) last_published_ms: u64,
    /// Changed since it was last published (temperature updates are throttled).
    pub(super) dirty: bool,
    /// What the last sample alone says (alerts may raise it).
    pub(super) sample_status: SeatStatus,
    /// A failover was ordered and the seat has not shown it yet.
    pub(super) failover_wanted: bool,
    /// When the last order went out.
    pub(super) failover_sent_ms: Option<u64>,
}

impl TrackedSeat {
    /// A configured seat, never heard.
    pub(super) fn new() -> Self {
        Self {
            last_published_ms: 0,
            dirty: false,
            sample_status: SeatStatus::Unknown,
            failover_wanted: false,
            failover_sent_ms: None,
        }
    }
}

impl StateTask {
    /// Folds one verified ingest event into the model, the engine and storage.
    pub(super) fn apply(&mut self, ev: IngestEvent, now: u64) {
        // What is stored and shown is stamped on the wall clock; detection keeps `now`.
        let stamp = self.stamp(now);
        let heard_on = match &ev {
            IngestEvent::Hello { line, .. }
            | IngestEvent::Sample { line, .. }
            | IngestEvent::Rejected { line, .. } => self.line_name(*line),
            _ => None,
        };
        let mut model = self.live.model.write().unwrap_or_else(|p| p.into_inner());
        let seat_id = match &ev {
            IngestEvent::Hello { seat, .. }
            | IngestEvent::SessionOpened { seat, .. }
            | IngestEvent::Sample { seat, .. }
            | IngestEvent::Event { seat, .. }
            | IngestEvent::Ack { seat, .. }
            | IngestEvent::Resync { seat, .. }
            | IngestEvent::Rejected { seat, .. } => *seat,
            IngestEvent::Send { .. } => return,
        };
        let Some(state) = model.seats.get_mut(&seat_id) else {
            if let IngestEvent::Rejected {
                reason: Rejection::UnknownSeat,
                ..
            } = ev
            {
                tracing::debug!(seat = seat_id, "frame from an unconfigured seat");
            }
            return;
        };
        let Some(tracked) = self.seats.get_mut(&seat_id) else {
            return;
        };
        let before = state.status;
        match &ev {
            // Only telemetry proves the seat alive: the kind travels in clear, so an attacker can
            // forward the acks and drop the telemetry of a seat that heats.
            IngestEvent::Sample { .. } => self.engine.on_heard(seat_id, heard_on.as_deref(), now),
            IngestEvent::Ack { .. } | IngestEvent::Event { .. } => self.engine.on_frame(seat_id, now),
            IngestEvent::Rejected {
                reason: Rejection::Auth(AuthError::BadMac | AuthError::Replay) | Rejection::Throttled,
                ..
            } => {
                if let Some(line) = &heard_on {
                    self.engine.on_rejected(line, now);
                }
            }
            _ => {}
        }
        match ev {
            IngestEvent::Hello { hello, .. } => {
                // `hello.period_ms` is the seat's sampling period; it speaks once per round
                // period of its line, which is at most its configured period (`line_plan`), so
                // the configured period stays the silence detector's.
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
                state.last_seen_ms = Some(stamp);
                store(
                    &self.storage,
                    Record::HelloSeen {
                        seat: seat_id,
                        boot_id: hello.boot_id,
                        counter: hello.counter,
                        at_ms: stamp,
                    },
                );
                store(
                    &self.storage,
                    Record::SeatSeen {
                        seat: seat_id,
                        boot_id: None,
                        firmware: state.firmware.clone(),
                        board: state.board.clone(),
                        at_ms: stamp,
                    },
                );
            }
            IngestEvent::SessionOpened {
                boot_id, new_boot, ..
            } => {
                if new_boot {
                    let (kind, detail) = if state.boot_id.is_some() {
                        state.counters.reboots += 1;
                        tracing::info!(seat = seat_id, boot_id, "seat rebooted");
                        (
                            EventKind::SeatRebooted,
                            format!("new boot identity {boot_id:#010x}"),
                        )
                    } else {
                        (EventKind::SeatBooted, format!("boot identity {boot_id:#010x}"))
                    };
                    store_event(
                        &self.storage,
                        stamp,
                        Some(seat_id),
                        state.heard_on.clone(),
                        kind,
                        detail,
                    );
                    store(
                        &self.storage,
                        Record::SeatSeen {
                            seat: seat_id,
                            boot_id: Some(boot_id),
                            firmware: None,
                            board: None,
                            at_ms: stamp,
                        },
                    );
                }
                state.boot_id = Some(boot_id);
            }
            IngestEvent::Sample { telemetry, lost, .. } => {
                // Channel 0, the console's sensor: the die channel (1) is stored in `temps_c` and
                // shown, never detected on (see `hemiwatch_protocol::Channel`).
                let console = telemetry.console();
                state.temps_c = telemetry.temps.iter().map(|c| f64::from(*c) / 100.0).collect();
                state.hottest_c = console.map(|c| f64::from(c) / 100.0);
                state.supply_mv = Some(telemetry.supply_mv);
                state.flags = flag_names(telemetry.flags)
                    .into_iter()
                    .map(String::from)
                    .collect();
                state.uptime_min = Some(telemetry.uptime_min);
                state.last_seen_ms = Some(stamp);
                state.heard_on = heard_on;
                state.counters.frames += 1;
                state.counters.lost += u64::from(lost);
                tracked.sample_status = status_from_sample(&telemetry.flags);
                if telemetry.flags.contains(Flags::FAILOVER_ACTIVE) && tracked.failover_wanted {
                    tracked.failover_wanted = false;
                    tracing::info!(seat = seat_id, "seat reports failover active");
                }
                let started = Instant::now();
                self.engine
                    .on_sample(seat_id, Sample::from_telemetry(now, &telemetry));
                self.metrics
                    .detector_seconds
                    .observe(started.elapsed().as_secs_f64());
                if let Some(console) = console {
                    self.samples.push(SampleRow {
                        seat: seat_id,
                        t_ms: stamp,
                        temp_centi: console,
                        flags: telemetry.flags.bits(),
                    });
                }
            }
            IngestEvent::Event { event, .. } => {
                tracing::info!(seat = seat_id, code = event.code.0, name = ?event.code.name(), detail = event.detail, "seat event");
                store_event(
                    &self.storage,
                    now,
                    Some(seat_id),
                    state.heard_on.clone(),
                    EventKind::Seat(event.code),
                    format!("code {} detail {}", event.code.0, event.detail),
                );
            }
            IngestEvent::Ack { ack, .. } => {
                // Pings are acknowledged every 2 s by every seat: worth a trace, not a log line.
                if ack.of == MessageKind::Ping as u8 {
                    tracing::trace!(seat = seat_id, counter = ack.counter, "ping acknowledged");
                } else if ack.of == MessageKind::Failover as u8 {
                    tracing::info!(seat = seat_id, status = ?ack.status, "seat acknowledged the failover");
                    store_event(
                        &self.storage,
                        stamp,
                        Some(seat_id),
                        state.heard_on.clone(),
                        EventKind::FailoverAcked,
                        format!("the seat answered {:?}", ack.status),
                    );
                } else {
                    tracing::info!(seat = seat_id, counter = ack.counter, of = ack.of, status = ?ack.status, "seat acknowledged");
                }
            }
            IngestEvent::Resync { reason, line, .. } => {
                // A seat whose frames all fail their MAC still hears the beacons: only a new
                // epoch on its line makes it say Hello again (the whole line re-handshakes, at
                // most once per `EPOCH_RENEWAL_MIN`, a round or two of telemetry).
                if reason == ResyncReason::BadMacs {
                    if let Some(l) = line.and_then(|l| self.lines.get(l)) {
                        l.renew_epoch.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                }
                tracing::warn!(
                    seat = seat_id,
                    reason = reason.name(),
                    "closed the seat's session to force a new handshake"
                );
                store_event(
                    &self.storage,
                    now,
                    Some(seat_id),
                    state.heard_on.clone(),
                    EventKind::SessionReset,
                    match reason {
                        ResyncReason::BadMacs => format!(
                            "{RESYNC_AFTER_BAD_MACS} frames in a row failed their MAC: the session was closed so that the seat says Hello again"
                        ),
                        ResyncReason::NoTelemetry => format!(
                            "no telemetry for {RESYNC_AFTER_PERIODS} periods: the session was closed so that the seat says Hello again"
                        ),
                    },
                );
            }
            IngestEvent::Rejected { reason, line, .. } => match reason {
                Rejection::Auth(AuthError::BadMac) => state.counters.bad_mac += 1,
                Rejection::Auth(AuthError::Replay) => state.counters.replays += 1,
                Rejection::Auth(AuthError::NoSession) => {
                    state.counters.rejected += 1;
                    // The seat speaks under a session the host closed (no telemetry for a while,
                    // then it came back): it still hears beacons of the same epoch and would never
                    // say Hello again. A new epoch on its line makes it (at most every 30 s).
                    if let Some(l) = self.lines.get(line) {
                        l.renew_epoch.store(true, std::sync::atomic::Ordering::Relaxed);
                    }
                }
                _ => state.counters.rejected += 1,
            },
            IngestEvent::Send { .. } => {}
        }
        state.status = combined_status(tracked.sample_status, self.engine.status(seat_id));
        publish_seat(&self.live.updates, tracked, state, state.status != before, now);
    }
}

/// A seat shows the worse of what its last sample says and what its open alerts say; a seat
/// never heard and without alerts stays `unknown`.
pub(super) fn combined_status(sample: SeatStatus, alerts: Option<SeatStatus>) -> SeatStatus {
    alerts.map_or(sample, |a| a.max(sample))
}

/// The status a sample alone implies (alerts may raise it further): the seat's own flags. Its
/// temperature alone says nothing: a seat is warm, overheating or past its emergency level only
/// once the tier machine says so (the level held for the dwell), so one hot reading never
/// colours it.
fn status_from_sample(flags: &Flags) -> SeatStatus {
    if flags.contains(Flags::SENSOR_FAULT) {
        SeatStatus::SensorFault
    } else if flags.safe_mode() {
        SeatStatus::FailoverActive
    } else {
        SeatStatus::Ok
    }
}
