//! What forged frames cost the host (issue 12, item 6), beside genuine ones, in the same run.
//!
//! The link is at its worst case: an open session, two answered `Hello`s never confirmed and
//! four retired sessions (`tests/forgery_cost.rs` builds the same and checks the CMAC count). The
//! forged frames are `Telemetry` for the seat's address MACed with another key, so each fails
//! every try: [`MAX_CMACS_PER_FRAME`] CMACs; a genuine frame verifies at its first try. The third
//! row is the daemon's answer to a flood on one line after its budget of full checks
//! ([`HostLink::accept_next`]: one CMAC).
//!
//! `cargo bench -p hemiwatch-protocol --bench forgery` prints criterion's figures, then a table of
//! frames/s on one core and the ratio forged / genuine.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use hemiwatch_protocol::link::MAX_CMACS_PER_FRAME;
use hemiwatch_protocol::*;

const BATCH: usize = 2_000;
const SEAT: SeatId = 9;
const KEY: SeatKey = SeatKey([0x33; 16]);

fn hello() -> Message {
    Message::Hello(Hello::simulated(500))
}

fn accept(host: &mut HostLink, wire: &[u8]) -> Result<Verified, AuthError> {
    let mut dec = FrameDecoder::<MAX_WIRE>::new();
    let mut r = Err(AuthError::BadPayload);
    dec.feed(wire, |f| {
        if let Ok(f) = f {
            r = host.accept(&f);
        }
    });
    r
}

/// Opens a session between `seat` and `host` (answered with `nonce`).
fn open(seat: &mut SeatLink, host: &mut HostLink, nonce: u64) {
    let mut buf = [0u8; MAX_WIRE];
    let Ok(Message::Hello(h)) = accept(host, seat.encode(&hello(), &mut buf).unwrap()).map(|v| v.message)
    else {
        panic!("hello refused")
    };
    let answer = host.respond_to_hello(&h, nonce, &mut buf).unwrap().to_vec();
    let mut dec = FrameDecoder::<MAX_WIRE>::new();
    dec.feed(&answer, |f| {
        seat.accept(&f.unwrap()).unwrap();
    });
}

/// The worst-case link, the live seat of its open session, and streams of genuine and forged
/// telemetry.
fn setup() -> (HostLink, Vec<u8>, Vec<u8>) {
    let mut host = HostLink::new(SEAT, Some(&KEY));
    let mut buf = [0u8; MAX_WIRE];
    let mut live = None;
    for boot in 1..=7u32 {
        let mut seat = SeatLink::new(SEAT, &KEY, boot);
        if boot <= 5 {
            open(&mut seat, &mut host, u64::from(boot));
            for _ in 0..300 {
                let t = seat
                    .encode(&Message::Telemetry(Telemetry::default()), &mut buf)
                    .unwrap()
                    .to_vec();
                accept(&mut host, &t).unwrap();
            }
            live = Some(seat);
        } else {
            let Ok(Message::Hello(h)) =
                accept(&mut host, seat.encode(&hello(), &mut buf).unwrap()).map(|v| v.message)
            else {
                panic!("hello refused")
            };
            host.respond_to_hello(&h, u64::from(boot), &mut buf).unwrap();
        }
    }
    let mut live = live.unwrap();
    let t = Telemetry {
        uptime_min: 600,
        temps: heapless::Vec::from_slice(&[4500, 3850]).unwrap(),
        supply_mv: 3300,
        ..Default::default()
    };
    let genuine: Vec<u8> = (0..BATCH)
        .flat_map(|_| {
            live.encode(&Message::Telemetry(t.clone()), &mut buf)
                .unwrap()
                .to_vec()
        })
        .collect();
    let mut impostor = SeatLink::new(SEAT, &SeatKey([0xEE; 16]), 1);
    let mut impostor_host = HostLink::new(SEAT, Some(&SeatKey([0xEE; 16])));
    open(&mut impostor, &mut impostor_host, 5);
    let forged: Vec<u8> = (0..BATCH)
        .flat_map(|_| {
            impostor
                .encode(&Message::Telemetry(t.clone()), &mut buf)
                .unwrap()
                .to_vec()
        })
        .collect();
    (host, genuine, forged)
}

/// Feeds `stream` to a copy of `template`; returns (accepted, refused).
fn receive(template: &HostLink, stream: &[u8], cheap: bool) -> (usize, usize) {
    let mut host = template.clone();
    let mut dec = FrameDecoder::<MAX_WIRE>::new();
    let (mut ok, mut refused) = (0, 0);
    dec.feed(stream, |f| {
        if let Ok(f) = f {
            let r = if cheap {
                host.accept_next(&f)
            } else {
                host.accept(&f)
            };
            match black_box(r) {
                Ok(_) => ok += 1,
                Err(_) => refused += 1,
            }
        }
    });
    (ok, refused)
}

fn main() {
    let (host, genuine, forged) = setup();
    // Correctness first: every genuine frame accepted, every forged one refused at full cost.
    assert_eq!(receive(&host, &genuine, false), (BATCH, 0));
    assert_eq!(receive(&host, &forged, false), (0, BATCH));
    assert_eq!(receive(&host, &forged, true), (0, BATCH));
    let mut probe = host.clone();
    let before = probe.cmacs_computed();
    let mut dec = FrameDecoder::<MAX_WIRE>::new();
    dec.feed(&forged[..forged.len() / BATCH * 4], |f| {
        let _ = probe.accept(&f.unwrap());
    });
    let per_forgery = f64::from(probe.cmacs_computed().wrapping_sub(before)) / 4.0;

    let mut c = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let mut g = c.benchmark_group("forgery");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("genuine", |b| b.iter(|| receive(&host, &genuine, false)));
    g.bench_function("forged", |b| b.iter(|| receive(&host, &forged, false)));
    g.bench_function("forged_flooded_line", |b| {
        b.iter(|| receive(&host, &forged, true))
    });
    g.finish();
    c.final_summary();

    let median_ns = |name: &str| -> Option<f64> {
        let dir = std::env::var("CARGO_TARGET_DIR")
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target").to_string());
        let text =
            std::fs::read_to_string(format!("{dir}/criterion/forgery/{name}/new/estimates.json")).ok()?;
        let rest = &text[text.find("\"median\"")?..];
        let pe = rest.find("\"point_estimate\":")? + "\"point_estimate\":".len();
        let num: String = rest[pe..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == 'e' || *c == '-')
            .collect();
        num.parse().ok()
    };
    let fps = |name: &str| median_ns(name).map(|ns| BATCH as f64 / (ns * 1e-9));
    let (Some(g), Some(f), Some(fl)) = (fps("genuine"), fps("forged"), fps("forged_flooded_line")) else {
        println!("(criterion estimates not found; run without --test/--list to measure)");
        return;
    };
    println!();
    println!(
        "| one core, worst-case link (1 open, 2 answered, 4 retired sessions) | frames/s | vs genuine |"
    );
    println!("|---|---:|---:|");
    println!("| genuine Telemetry (baseline) | {g:.0} | 1.00 |");
    println!(
        "| forged Telemetry, full check ({per_forgery:.0} CMACs each, bound {MAX_CMACS_PER_FRAME}) | {f:.0} | {:.3} |",
        f / g
    );
    println!(
        "| forged Telemetry on a flooded line (1 CMAC each) | {fl:.0} | {:.3} |",
        fl / g
    );
}
