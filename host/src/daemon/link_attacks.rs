//! Issue 12, the link: an attacker on the line without a key tries to make a hot or dead seat
//! look "ok" to the daemon. Each test runs the real state task (ingest, alert engine, SQLite
//! storage in a temporary folder) against a seat played by the protocol's own [`SeatLink`], and
//! plays the attacker by choosing which of the seat's frames reach the daemon.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use hemiwatch_protocol::{
    Ack, AckStatus, FrameDecoder, Hello, Message, MessageKind, OwnedFrame, SeatKey, SeatLink, Telemetry,
    MAX_WIRE,
};
use tokio::sync::{broadcast, mpsc};

use super::task::StateTask;
use crate::alert::{AlertState, Kind};
use crate::config::{LineSettings, SeatSettings, Settings};
use crate::daemon::initial_model;
use crate::metrics::Metrics;
use crate::model::{LiveModel, SeatPlace, SeatState, SeatStatus};
use crate::source::{Endpoint, LineEvent, LineHandle};
use crate::storage::{OutboxDoorbell, Storage, StorageSettings};

const SEAT: u16 = 7;
const KEY: SeatKey = SeatKey([0x5A; 16]);
const PERIOD_MS: u64 = 500;

/// A daemon's state task on one line "a" with one keyed seat, its storage in `dir`.
struct Rig {
    task: Option<StateTask>,
    live: LiveModel,
    downlink: mpsc::Receiver<Vec<u8>>,
    storage: Storage,
    writer: Option<std::thread::JoinHandle<()>>,
}

fn settings(dir: &std::path::Path) -> Settings {
    Settings {
        lines: vec![LineSettings::new(
            "a",
            Endpoint::parse("/dev/null", 115_200).expect("endpoint"),
        )],
        http_bind: "127.0.0.1:0".parse().expect("addr"),
        api_token: None,
        database: dir.join("t.sqlite"),
        raw_retention: Duration::from_secs(3600),
        rollup_retention: Duration::from_secs(3600),
        flush_interval: Duration::from_millis(50),
        sinks: Vec::new(),
        seats: vec![SeatSettings {
            place: SeatPlace {
                id: SEAT,
                label: "S7".into(),
                sector: "A".into(),
                row: 1,
                position: 1,
                line: Some("a".into()),
            },
            key: Some(KEY),
            tiers: crate::detect::tier::TierRules::default(),
            horizon_s: 300,
            period_ms: PERIOD_MS,
        }],
    }
}

impl Rig {
    fn start(dir: &std::path::Path) -> Self {
        let settings = settings(dir);
        let (storage, restored, writer) = Storage::open(
            &StorageSettings {
                path: settings.database.clone(),
                raw_retention: settings.raw_retention,
                rollup_retention: settings.rollup_retention,
                flush_interval: settings.flush_interval,
                sinks: Vec::new(),
            },
            OutboxDoorbell::new(),
        )
        .expect("storage opens");
        let (updates, _) = broadcast::channel(4096);
        let (requests, _) = mpsc::channel(1);
        let live = LiveModel {
            model: Arc::new(RwLock::new(initial_model(&settings.seats))),
            updates,
            requests,
        };
        let (tx, downlink) = mpsc::channel(1024);
        let line = LineHandle {
            renew_epoch: Default::default(),
            id: 0,
            name: "a".into(),
            endpoint: settings.lines[0].endpoint.clone(),
            outbound: tx,
            counters: Arc::default(),
        };
        let task = StateTask::new(
            &settings,
            live.clone(),
            vec![line],
            storage.clone(),
            &restored,
            Arc::new(Metrics::new()),
        );
        Self {
            task: Some(task),
            live,
            downlink,
            storage,
            writer: Some(writer),
        }
    }

    fn task(&mut self) -> &mut StateTask {
        self.task.as_mut().expect("running")
    }

    /// Delivers the wire bytes to the daemon at `now`.
    fn deliver(&mut self, wire: &[u8], now: u64) {
        let frames = frames(wire).into_iter().map(Ok).collect();
        self.task()
            .on_line_event(LineEvent::Frames { line: 0, frames }, now);
    }

    /// What the daemon wrote to the line since the last call.
    fn sent(&mut self) -> Vec<OwnedFrame> {
        let mut out = Vec::new();
        while let Ok(bytes) = self.downlink.try_recv() {
            out.extend(frames(&bytes));
        }
        out
    }

    fn seat(&self) -> SeatState {
        self.live.model.read().expect("model").seats[&SEAT].clone()
    }

    /// The state of the open alert of `kind`, as published: alerts are published once
    /// committed, so the storage is flushed first.
    fn open_alert(&self, kind: Kind) -> Option<AlertState> {
        self.storage.flush().expect("flush");
        let m = self.live.model.read().expect("model");
        m.alerts
            .values()
            .filter(|a| a.kind == kind && a.state != AlertState::Resolved)
            .map(|a| a.state)
            .max()
    }

    /// Stops the daemon (its storage committed and closed).
    fn stop(mut self) {
        drop(self.task.take());
        self.storage.flush().expect("flush");
        self.storage.close();
        if let Some(w) = self.writer.take() {
            w.join().expect("writer");
        }
    }
}

fn frames(wire: &[u8]) -> Vec<OwnedFrame> {
    let mut dec = FrameDecoder::<MAX_WIRE>::new();
    let mut v = Vec::new();
    dec.feed(wire, |r| {
        if let Ok(f) = r {
            v.push(f.to_owned());
        }
    });
    v
}

fn hello() -> Message {
    Message::Hello(Hello::simulated(PERIOD_MS as u16))
}

fn telemetry(temp_c: f64) -> Message {
    let mut temps = heapless::Vec::new();
    let _ = temps.push((temp_c * 100.0) as i16);
    Message::Telemetry(Telemetry {
        uptime_min: 1,
        temps,
        supply_mv: 3300,
        ..Default::default()
    })
}

/// The seat: its link, and what it does with the daemon's frames (accept the `Session`, answer
/// commands with an `Ack`, whose wire bytes it returns for the line).
struct Seat {
    link: SeatLink,
    buf: [u8; MAX_WIRE],
}

impl Seat {
    fn boot(boot_id: u32) -> Self {
        Self {
            link: SeatLink::new(SEAT, &KEY, boot_id),
            buf: [0; MAX_WIRE],
        }
    }

    fn say(&mut self, msg: &Message) -> Vec<u8> {
        self.link.encode(msg, &mut self.buf).expect("encodes").to_vec()
    }

    /// Hears the daemon; returns the acks it sends back.
    fn hear(&mut self, from_host: &[OwnedFrame]) -> Vec<Vec<u8>> {
        let mut acks = Vec::new();
        for f in from_host {
            if let Ok((counter, msg)) = self.link.accept(&f.as_raw()) {
                if msg.kind() != MessageKind::Session {
                    acks.push(self.say(&Message::Ack(Ack {
                        counter,
                        of: msg.kind() as u8,
                        status: AckStatus::Ok,
                    })));
                }
            }
        }
        acks
    }
}

/// Hello, Session, and telemetry at 2 Hz from `from` for `secs` (ticking every 100 ms); returns
/// the time after the last step and the seat's Hello wire bytes.
fn run_healthy(rig: &mut Rig, seat: &mut Seat, from: u64, secs: u64) -> (u64, Vec<u8>) {
    let h = seat.say(&hello());
    rig.deliver(&h, from);
    let answer = rig.sent();
    seat.hear(&answer);
    assert!(seat.link.has_session(), "the daemon answered the Hello");
    let mut t = from;
    while t < from + secs * 1_000 {
        if (t - from).is_multiple_of(PERIOD_MS) {
            let w = seat.say(&telemetry(40.0));
            rig.deliver(&w, t);
        }
        rig.task().on_tick(t);
        let down = rig.sent();
        for ack in seat.hear(&down) {
            rig.deliver(&ack, t);
        }
        t += 100;
    }
    (t, h)
}

/// Item 2: the attacker drops the seat's telemetry (and events) and forwards its acks to the
/// daemon's pings while the seat heats. The seat leaves "ok" within 3 telemetry periods and
/// `telemetry_missing` fires; it is never "ok" again while the attack lasts.
#[test]
fn a_seat_whose_telemetry_is_dropped_but_acks_forwarded_leaves_ok() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rig = Rig::start(dir.path());
    let t0 = crate::unix_ms();
    let mut seat = Seat::boot(0xA11CE);
    let (mut t, _) = run_healthy(&mut rig, &mut seat, t0, 15);
    assert_eq!(rig.seat().status, SeatStatus::Ok, "healthy before the attack");
    let attack = t;
    let mut left_ok_at = None;
    let mut acks_forwarded = 0;
    while t < attack + 20_000 {
        if (t - attack).is_multiple_of(PERIOD_MS) {
            // The seat heats towards 90 °C; the attacker drops every telemetry frame.
            let _dropped = seat.say(&telemetry(40.0 + (t - attack) as f64 / 400.0));
        }
        rig.task().on_tick(t);
        let down = rig.sent();
        for ack in seat.hear(&down) {
            rig.deliver(&ack, t);
            acks_forwarded += 1;
        }
        let status = rig.seat().status;
        if status != SeatStatus::Ok {
            left_ok_at.get_or_insert(t);
        } else {
            assert!(
                left_ok_at.is_none(),
                "back to ok at +{} ms during the attack",
                t - attack
            );
        }
        t += 100;
    }
    assert!(acks_forwarded > 0, "the attacker forwarded acks to the pings");
    let left = left_ok_at.expect("the seat never left ok") - attack;
    assert!(left <= 3 * PERIOD_MS, "left ok {left} ms after the attack began");
    assert!(
        rig.open_alert(Kind::TelemetryMissing).is_some(),
        "telemetry_missing stands: {:?}",
        rig.live.model.read().expect("model").alerts
    );
    rig.stop();
}

/// Item 1: Hellos captured from earlier boots, replayed after the seat died (alternately, once
/// they have left the link's few remembered slots), keep nothing alive: the seat goes silent
/// within 3 periods of its last telemetry and the replays are counted.
#[test]
fn old_hellos_replayed_after_the_seat_died_do_not_keep_it_alive() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rig = Rig::start(dir.path());
    let mut t = crate::unix_ms();
    let mut captured = Vec::new();
    for boot in 1..=7u32 {
        let mut seat = Seat::boot(boot);
        let (next, h) = run_healthy(&mut rig, &mut seat, t, 3);
        captured.push(h);
        t = next;
    }
    assert_eq!(rig.seat().status, SeatStatus::Ok);
    assert_eq!(rig.seat().boot_id, Some(7));
    // The seat dies; the attacker alternates the Hellos of boots 1 and 2, one per period.
    let died = t;
    let mut silent_at = None;
    while t < died + 10_000 {
        if (t - died).is_multiple_of(PERIOD_MS) {
            let h = captured[((t - died) / PERIOD_MS % 2) as usize].clone();
            rig.deliver(&h, t);
        }
        rig.task().on_tick(t);
        if rig.seat().status == SeatStatus::Silent {
            silent_at.get_or_insert(t);
        }
        t += 100;
    }
    let silent = silent_at.expect("the dead seat never went silent") - died;
    assert!(silent <= 3 * PERIOD_MS, "silent after {silent} ms");
    assert!(rig.seat().counters.replays >= 19, "{:?}", rig.seat().counters);
    assert_eq!(rig.open_alert(Kind::SeatSilent), Some(AlertState::Firing));
    rig.stop();
}

/// Item 1 across a restart: the daemon's link state is gone, what SQLite kept is not; a Hello
/// of a boot that already opened a session is refused as a replay and the seat is never "ok".
#[test]
fn a_hello_replayed_after_a_daemon_restart_is_refused_from_what_storage_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rig = Rig::start(dir.path());
    let t0 = crate::unix_ms();
    let mut seat = Seat::boot(0xB007);
    let (_, old_hello) = run_healthy(&mut rig, &mut seat, t0, 3);
    rig.stop();
    // The seat is dead; the daemon restarts on the same database.
    let mut rig = Rig::start(dir.path());
    let mut t = crate::unix_ms();
    let start = t;
    while t < start + 5_000 {
        if (t - start).is_multiple_of(PERIOD_MS) {
            rig.deliver(&old_hello, t);
        }
        rig.task().on_tick(t);
        assert_ne!(rig.seat().status, SeatStatus::Ok, "ok at +{} ms", t - start);
        t += 100;
    }
    assert_eq!(rig.seat().counters.replays, 10, "{:?}", rig.seat().counters);
    assert!(rig.sent().is_empty(), "a replayed Hello is not even answered");
    rig.stop();
}

/// Issue 18: forged frames kept up on a line are a security event: `link_tampering` fires on
/// the line (the counters alone were all there was).
#[test]
fn sustained_bad_macs_on_a_line_raise_link_tampering() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut rig = Rig::start(dir.path());
    let t0 = crate::unix_ms();
    let mut seat = Seat::boot(0xC0DE);
    let (mut t, _) = run_healthy(&mut rig, &mut seat, t0, 3);
    assert_eq!(rig.open_alert(Kind::LinkTampering), None);
    // An impostor without the key speaks for the seat, two frames a second, beside the seat.
    let mut impostor = SeatLink::new(SEAT, &SeatKey([1; 16]), 0xC0DE);
    let mut buf = [0u8; MAX_WIRE];
    let forged = impostor.encode(&hello(), &mut buf).expect("encodes").to_vec();
    let start = t;
    let mut fired_at = None;
    while t < start + 10_000 {
        if (t - start).is_multiple_of(PERIOD_MS) {
            rig.deliver(&forged, t);
            let w = seat.say(&telemetry(40.0));
            rig.deliver(&w, t);
        }
        rig.task().on_tick(t);
        for ack in seat.hear(&rig.sent()) {
            rig.deliver(&ack, t);
        }
        if rig.open_alert(Kind::LinkTampering) == Some(AlertState::Firing) {
            fired_at.get_or_insert(t);
        }
        t += 100;
    }
    let fired = fired_at.expect("link_tampering never fired") - start;
    assert!(fired <= 4_000, "fired after {fired} ms");
    let line = {
        rig.storage.flush().expect("flush");
        let m = rig.live.model.read().expect("model");
        m.alerts
            .values()
            .find(|a| a.kind == Kind::LinkTampering)
            .and_then(|a| a.line.clone())
    };
    assert_eq!(line.as_deref(), Some("a"));
    assert_eq!(
        rig.seat().status,
        SeatStatus::Ok,
        "the real seat, still heard, stays ok"
    );
    rig.stop();
}
