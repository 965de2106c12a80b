//! The whole ingest path on one core, with 577 seats: wire bytes → frame decoder → ingest core
//! (HostLink verification, sessions, anti-replay) → the state task (live model update, status,
//! publication). Target: ≥ 500,000 frames/s, i.e. > 400× what the hemicycle sends at 2 Hz.
//!
//! `cargo bench -p hemiwatch --bench ingest` prints a table; no timing is asserted.

use std::sync::{Arc, RwLock};
use std::time::Instant;

use hemiwatch::daemon::{initial_model, LineSettings, SeatSettings, Settings, StateTask};
use hemiwatch::model::{Live, SeatPlace};
use hemiwatch::sim::{demo_key, Scenario, SimSeat};
use hemiwatch::source::{Endpoint, LineEvent, LineHandle};
use hemiwatch_protocol::{FrameDecoder, MAX_WIRE};
use tokio::sync::{broadcast, mpsc};

const SEATS: u16 = 577;
/// Simulated seconds of traffic: 577 seats × 2 Hz × 60 s ≈ 69,000 telemetry frames.
const SECONDS: u64 = 60;

fn settings() -> Settings {
    Settings {
        lines: vec![LineSettings {
            name: "bench".into(),
            endpoint: Endpoint::parse("/dev/null", 115200).unwrap(),
        }],
        seats: (1..=SEATS)
            .map(|id| SeatSettings {
                place: SeatPlace {
                    id,
                    label: format!("S{id}"),
                    sector: "A".into(),
                    row: 1,
                    position: id,
                    line: None,
                },
                key: Some(demo_key(id)),
                warn_c: 70.0,
                critical_c: 85.0,
                horizon_s: 300,
                period_ms: 500,
            })
            .collect(),
        http_bind: "127.0.0.1:0".parse().unwrap(),
        api_token: None,
        database: "/dev/null".into(),
        raw_retention: std::time::Duration::from_secs(86_400),
        rollup_retention: std::time::Duration::from_secs(90 * 86_400),
        flush_interval: std::time::Duration::from_secs(1),
        sinks: Vec::new(),
    }
}

/// Plays the seats against `state` for one simulated second so every seat has a session with it,
/// delivering the state task's answers (read back from the line's outbound queue) to the seats.
fn handshake(state: &mut StateTask, seats: &mut [SimSeat], outbound: &mut mpsc::Receiver<Vec<u8>>) {
    let mut decoder = FrameDecoder::<MAX_WIRE>::new();
    let mut up = Vec::new();
    for now in (0..1_000).step_by(10) {
        for s in seats.iter_mut() {
            s.poll(now, &mut up);
        }
        let mut batch = Vec::new();
        decoder.feed(&up, |r| batch.push(r.map(|f| f.to_owned())));
        up.clear();
        state.on_line_event(
            LineEvent::Frames {
                line: 0,
                frames: batch,
            },
            now,
        );
        while let Ok(bytes) = outbound.try_recv() {
            let mut down = FrameDecoder::<MAX_WIRE>::new();
            down.feed(&bytes, |r| {
                if let Ok(f) = r {
                    if let Some(s) = seats.iter_mut().find(|s| s.id() == f.header.seat) {
                        s.on_frame(&f, now, &mut up);
                    }
                }
            });
        }
    }
}

fn main() {
    let mut best = f64::MAX;
    let mut frames_total = 0;
    for _ in 0..5 {
        let settings = settings();
        let (updates, _keep) = broadcast::channel(1 << 16);
        let (requests, _rx) = mpsc::channel(1);
        let live = Live {
            model: Arc::new(RwLock::new(initial_model(&settings.seats))),
            updates,
            requests,
        };
        let (out_tx, mut out_rx) = mpsc::channel(1 << 20);
        let line = LineHandle {
            id: 0,
            name: "bench".into(),
            endpoint: settings.lines[0].endpoint.clone(),
            outbound: out_tx,
            counters: Default::default(),
        };
        let mut state = StateTask::new(&settings, live.clone(), vec![line]);
        let mut seats: Vec<SimSeat> = (1..=SEATS)
            .map(|id| SimSeat::new(id, demo_key(id), Scenario::Steady, 500, 1, 0))
            .collect();
        handshake(&mut state, &mut seats, &mut out_rx);
        // What the line then carries for SECONDS: telemetry (the seats' re-hellos after the host
        // falls quiet are verified and answered too, like in the daemon).
        let mut wire = Vec::new();
        for now in (1_000..SECONDS * 1_000).step_by(10) {
            for s in seats.iter_mut() {
                s.poll(now, &mut wire);
            }
        }
        let mut decoder = FrameDecoder::<MAX_WIRE>::new();
        let start = Instant::now();
        let mut frames = 0usize;
        // Feed in 4 KiB reads, as the line task does.
        for chunk in wire.chunks(4096) {
            let mut batch = Vec::new();
            decoder.feed(chunk, |r| batch.push(r.map(|f| f.to_owned())));
            frames += batch.len();
            state.on_line_event(
                LineEvent::Frames {
                    line: 0,
                    frames: batch,
                },
                1_000,
            );
        }
        let elapsed = start.elapsed().as_secs_f64();
        best = best.min(elapsed);
        frames_total = frames;
        let model = live.model.read().unwrap();
        let verified: u64 = model.seats.values().map(|s| s.counters.frames).sum();
        let rejected: u64 = model
            .seats
            .values()
            .map(|s| s.counters.bad_mac + s.counters.rejected)
            .sum();
        assert_eq!(rejected, 0, "every frame verifies");
        assert!(
            verified >= u64::from(SEATS) * 2 * (SECONDS - 2),
            "{verified} frames verified"
        );
    }
    let fps = frames_total as f64 / best;
    let hemicycle = f64::from(SEATS) * 2.0;
    println!("| ingest path (decode + verify + state), one core | frames/s | × hemicycle at 2 Hz ({hemicycle:.0} frames/s) |");
    println!("|---|---:|---:|");
    println!(
        "| {frames_total} frames, best of 5 | {fps:.0} | {:.0}× |",
        fps / hemicycle
    );
    println!(
        "target: >= 500,000 frames/s: {}",
        if fps >= 500_000.0 { "met" } else { "MISSED" }
    );
}
