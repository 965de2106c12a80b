//! Alert latency: from the frame that triggers an alert leaving the seat's side of the line to
//! the webhook receiving the notification, through the whole daemon on loopback — line task,
//! frame decoder, MAC check, state task, alert engine, SQLite commit of the alert and its outbox
//! row, outbox worker, HTTP POST.
//!
//! The daemon runs in-process exactly as `hemiwatch run` wires it, reading a `tcp:` line (a
//! serial-over-IP concentrator) that this bench serves with simulated seats speaking the real
//! protocol at 2 Hz. One seat after another loses its sensor: its first telemetry frame with
//! `SENSOR_FAULT` raises `sensor_fault` at once (no persistence needed), so the latency is the
//! pipeline's, not a detector's confirmation delay. The send time is taken when that frame is
//! written to the socket, the receive time when the webhook handler runs.
//!
//! Reference (not measured): the usual Prometheus path, where a reading waits for the next
//! scrape (15 s), the next rule evaluation (15 s) and Alertmanager's `group_wait` (30 s) — on
//! average about 45 s with the defaults (7.5 + 7.5 + 30).
//!
//! `cargo bench -p hemiwatch --bench latency` prints a table; `LATENCY_SEATS` (default 120)
//! sets the number of alerts measured. Every one must reach the webhook: the bench fails (exit
//! status 1) naming the seats whose alert never arrived.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use axum::{extract::State, http::StatusCode, routing::post, Json, Router};
use hemiwatch::alert::{AlertState, Kind};
use hemiwatch::sim::{wire, Scenario, SimSeat};
use hemiwatch::sink::{Notification, Sink, WebhookSink};
use hemiwatch::source::Endpoint;
use hemiwatch::testkit::{place, seat_key, SettingsBuilder, TestDaemon};
use hemiwatch_protocol::{Flags, FrameDecoder, Message, SeatId, MAX_WIRE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

/// Before the first sensor dies: every seat has a session and the daemon is in steady state.
const WARMUP_MS: u64 = 5_000;
/// Between two seats' sensor failures.
const SPACING_MS: u64 = 250;
/// The seats' side polls this often.
const POLL: Duration = Duration::from_millis(2);
/// Mean wait of the Prometheus reference path, computed from its default intervals and not
/// measured: half a scrape (15 s) + half an evaluation interval (15 s) + Alertmanager's
/// group_wait (30 s).
const REFERENCE_MEAN_S: f64 = 7.5 + 7.5 + 30.0;

/// `seats` seats on one `tcp:` line at `line`, delivering alerts to the webhook at `hook`.
fn settings(seats: u16, line: SocketAddr, hook: SocketAddr) -> SettingsBuilder {
    SettingsBuilder::new()
        .line("bench", Endpoint::Tcp(line.to_string()))
        .seats((1..=seats).map(|id| place(id, "A", Some("bench"))))
        .sink(Sink::Webhook(WebhookSink::new(
            format!("http://{hook}/hook"),
            Duration::from_secs(2),
        )))
}

type Received = mpsc::UnboundedSender<(Instant, Notification)>;

async fn hook(State(tx): State<Received>, Json(n): Json<Notification>) -> StatusCode {
    let _ = tx.send((Instant::now(), n));
    StatusCode::OK
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let n: u16 = std::env::var("LATENCY_SEATS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(120);
    let line = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind line");
    let hook_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind hook");
    let (hook_tx, mut hook_rx) = mpsc::unbounded_channel();
    let hook_addr = hook_listener.local_addr().expect("hook addr");
    tokio::spawn(async move {
        let app = Router::new().route("/hook", post(hook)).with_state(hook_tx);
        let _ = axum::serve(hook_listener, app).await;
    });

    let settings = settings(n, line.local_addr().expect("line addr"), hook_addr);
    let daemon = TestDaemon::start(settings).await.expect("daemon started");
    let (sock, _) = tokio::time::timeout(Duration::from_secs(10), line.accept())
        .await
        .expect("the daemon connects to its tcp: line")
        .expect("accept");
    sock.set_nodelay(true).expect("nodelay");
    let (mut rd, mut wr) = sock.into_split();
    let (down_tx, mut down_rx) = mpsc::unbounded_channel::<Vec<u8>>();
    tokio::spawn(async move {
        let mut buf = [0u8; 4096];
        while let Ok(k) = rd.read(&mut buf).await {
            if k == 0 || down_tx.send(buf[..k].to_vec()).is_err() {
                break;
            }
        }
    });

    let start = Instant::now();
    let mut seats: Vec<SimSeat> = (1..=n)
        .map(|id| {
            let at_ms = WARMUP_MS + u64::from(id - 1) * SPACING_MS;
            SimSeat::new(
                id,
                seat_key(id),
                Scenario::SensorFails { at_ms },
                500,
                u64::from(id),
                0,
            )
        })
        .collect();
    let mut sent: HashMap<SeatId, Instant> = HashMap::new();
    let mut received: HashMap<SeatId, Instant> = HashMap::new();
    let mut up_decoder = FrameDecoder::<MAX_WIRE>::new();
    wire::sort(&mut seats);
    let deadline =
        start + Duration::from_millis(WARMUP_MS + u64::from(n) * SPACING_MS) + Duration::from_secs(20);
    let mut out = Vec::new();
    while received.len() < usize::from(n) && Instant::now() < deadline {
        let now_us = start.elapsed().as_micros() as u64;
        while let Ok(bytes) = down_rx.try_recv() {
            // Every seat hears the daemon's beacons and commands; they answer in their turns.
            wire::hear(&mut seats, &bytes, now_us, &mut out);
        }
        wire::poll(&mut seats, now_us, &mut out);
        if !out.is_empty() {
            let mut triggered = Vec::new();
            up_decoder.feed(&out, |r| {
                if let Ok(f) = r {
                    if let Ok(Message::Telemetry(t)) = f.message() {
                        if t.flags.contains(Flags::SENSOR_FAULT) {
                            triggered.push(f.header.seat);
                        }
                    }
                }
            });
            wr.write_all(&out).await.expect("line write");
            let at = Instant::now();
            for seat in triggered {
                sent.entry(seat).or_insert(at);
            }
            out.clear();
        }
        while let Ok((at, note)) = hook_rx.try_recv() {
            if note.kind == Kind::SensorFault && note.state == AlertState::Firing {
                if let Some(seat) = note.seat {
                    received.entry(seat).or_insert(at);
                }
            }
        }
        tokio::time::sleep(POLL).await;
    }
    let _ = daemon.stop().await;

    let missing: Vec<SeatId> = (1..=n)
        .filter(|id| !(sent.contains_key(id) && received.contains_key(id)))
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "latency: {} of {n} sensor_fault alerts never reached the webhook within the deadline (seats {missing:?}); {} triggering frames sent, {} notifications received",
            missing.len(),
            sent.len(),
            received.len()
        );
        std::process::exit(1);
    }
    let mut ms: Vec<f64> = received
        .iter()
        .filter_map(|(seat, r)| {
            sent.get(seat)
                .map(|s| r.saturating_duration_since(*s).as_secs_f64() * 1e3)
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    let (p50, p99, max) = (percentile(&ms, 0.5), percentile(&ms, 0.99), ms[ms.len() - 1]);
    println!("| frame → webhook, all {n} sensor_fault alerts (loopback, SQLite commit included) | ms |");
    println!("|---|---:|");
    println!("| p50 | {p50:.1} |");
    println!("| p99 | {p99:.1} |");
    println!("| max | {max:.1} |");
    println!(
        "reference, not measured (a constant computed from Prometheus's default intervals, not a run): scrape 15 s / 2 + evaluation 15 s / 2 + Alertmanager group_wait 30 s = {REFERENCE_MEAN_S:.0} s mean; the measured p50 is {:.0}× shorter, p99 {:.0}×",
        REFERENCE_MEAN_S * 1e3 / p50,
        REFERENCE_MEAN_S * 1e3 / p99
    );
}
