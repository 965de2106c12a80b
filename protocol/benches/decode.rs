//! Receive-path throughput on one core: COBS decode + CRC + CMAC verification + anti-replay +
//! payload decode of authenticated `Telemetry` frames, side by side in the same run with the
//! `mavlink` crate parsing MAVLink v2 HEARTBEAT frames (unsigned, and signed with its SHA-256
//! signature and timestamp check), the reference peer of the issue.
//!
//! `cargo bench -p hemiwatch-protocol` prints criterion's figures, then a table of frames/s and the
//! ratio Hemiwatch / MAVLink. Target: ≥ 1,000,000 authenticated frames/s/core and ratio ≥ 1.0.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, Throughput};
use hemiwatch_protocol::*;
use mavlink::dialects::minimal::{MavMessage, HEARTBEAT_DATA};
use mavlink::{MavHeader, MavlinkReader, MavlinkVersion, SigningConfig, SigningData};

/// Frames per batch: large enough that per-batch set-up (a fresh link or signing state) vanishes.
const BATCH: usize = 10_000;
const SEAT: SeatId = 577;
const KEY: SeatKey = SeatKey([7; 16]);

/// A batch of consecutive authenticated telemetry frames and a host link ready to accept them.
fn hemiwatch_stream() -> (HostLink, Vec<u8>) {
    let mut seat = SeatLink::new(SEAT, &KEY, 1);
    let mut host = HostLink::new(SEAT, Some(&KEY));
    let mut buf = [0u8; MAX_WIRE];
    let mut dec = FrameDecoder::<MAX_WIRE>::new();
    let hello = Hello {
        protocol_minor: PROTOCOL_MINOR,
        firmware: FirmwareVersion {
            major: 1,
            minor: 0,
            patch: 0,
        },
        board: BoardKind::Simulated,
        boot_id: 1,
        counter: 0,
        sensors: 3,
        reset: ResetCause::PowerOn,
        period_ms: 500,
    };
    let wire = seat
        .encode(&Message::Hello(hello.clone()), &mut buf)
        .unwrap()
        .to_vec();
    dec.feed(&wire, |f| {
        host.accept(&f.unwrap()).unwrap();
    });
    let answer = host.respond_to_hello(&hello, 42, &mut buf).unwrap().to_vec();
    dec.feed(&answer, |f| {
        seat.accept(&f.unwrap()).unwrap();
    });
    let mut stream = Vec::new();
    for i in 0..BATCH {
        let t = Telemetry {
            uptime_min: 600,
            flags: Flags::default(),
            temps: heapless::Vec::from_slice(&[4500 + (i % 50) as i16, 3850]).unwrap(),
            supply_mv: 3300,
        };
        stream.extend_from_slice(seat.encode(&Message::Telemetry(t), &mut buf).unwrap());
    }
    // Open the session on the host side with a first frame, as the daemon would.
    let first = seat.encode(&Message::Ping(Ping {}), &mut buf).err();
    assert!(first.is_some(), "seats cannot send host commands");
    (host, stream)
}

/// The same telemetry without MACs, for the like-for-like comparison with unsigned MAVLink.
fn hemiwatch_plain_stream() -> (HostLink, Vec<u8>) {
    let mut buf = [0u8; MAX_WIRE];
    let mut stream = Vec::new();
    for i in 0..BATCH {
        let t = Telemetry {
            uptime_min: 600,
            flags: Flags::default(),
            temps: heapless::Vec::from_slice(&[4500 + (i % 50) as i16, 3850]).unwrap(),
            supply_mv: 3300,
        };
        stream.extend_from_slice(
            encode_unauthenticated(SEAT, i as u32, &Message::Telemetry(t), &mut buf).unwrap(),
        );
    }
    (HostLink::new(SEAT, None), stream)
}

fn hemiwatch_receive(template: &HostLink, stream: &[u8]) -> usize {
    let mut host = template.clone();
    let mut dec = FrameDecoder::<MAX_WIRE>::new();
    let mut ok = 0;
    dec.feed(stream, |f| {
        if let Ok(f) = f {
            if let Ok(v) = host.accept(&f) {
                black_box(&v);
                ok += 1;
            }
        }
    });
    ok
}

fn mavlink_stream(signing: Option<&SigningData>) -> Vec<u8> {
    let mut stream = Vec::new();
    for i in 0..BATCH {
        let header = MavHeader {
            system_id: 1,
            component_id: 1,
            sequence: i as u8,
        };
        let msg = MavMessage::HEARTBEAT(HEARTBEAT_DATA::default());
        mavlink::write_v2_msg_signed(&mut stream, header, &msg, signing).unwrap();
    }
    stream
}

fn mavlink_receive(stream: &[u8], signing: Option<&SigningData>) -> usize {
    let mut reader = MavlinkReader::new(stream);
    let mut ok = 0;
    while let Ok(m) = reader.read_message_signed::<MavMessage>(MavlinkVersion::V2, signing) {
        black_box(&m);
        ok += 1;
    }
    ok
}

fn signing(sign_outgoing: bool) -> SigningData {
    SigningData::from_config(SigningConfig::new([9; 32], 0, sign_outgoing, false))
}

fn main() {
    let (host, hw_stream) = hemiwatch_stream();
    let (plain_host, hw_plain) = hemiwatch_plain_stream();
    let mav_plain = mavlink_stream(None);
    let mav_signed = mavlink_stream(Some(&signing(true)));
    // Correctness first: every frame of each stream must be accepted, or the figures mean nothing.
    assert_eq!(hemiwatch_receive(&host, &hw_stream), BATCH);
    assert_eq!(hemiwatch_receive(&plain_host, &hw_plain), BATCH);
    assert_eq!(mavlink_receive(&mav_plain, None), BATCH);
    assert_eq!(mavlink_receive(&mav_signed, Some(&signing(false))), BATCH);

    let mut c = Criterion::default()
        .configure_from_args()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let mut g = c.benchmark_group("receive");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("hemiwatch_authenticated", |b| {
        b.iter(|| hemiwatch_receive(&host, &hw_stream))
    });
    g.bench_function("hemiwatch_unauthenticated", |b| {
        b.iter(|| hemiwatch_receive(&plain_host, &hw_plain))
    });
    g.bench_function("mavlink_v2_heartbeat", |b| {
        b.iter(|| mavlink_receive(&mav_plain, None))
    });
    g.bench_function("mavlink_v2_heartbeat_signed", |b| {
        b.iter(|| mavlink_receive(&mav_signed, Some(&signing(false))))
    });
    g.finish();
    c.final_summary();

    // Criterion keeps its estimates on disk; read the medians back to print the comparison.
    let median_ns = |name: &str| -> Option<f64> {
        let dir = std::env::var("CARGO_TARGET_DIR")
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../target").to_string());
        let path = format!("{dir}/criterion/receive/{name}/new/estimates.json");
        let text = std::fs::read_to_string(path).ok()?;
        let at = text.find("\"median\"")?;
        let rest = &text[at..];
        let pe = rest.find("\"point_estimate\":")? + "\"point_estimate\":".len();
        let num: String = rest[pe..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.' || *c == 'e' || *c == '-')
            .collect();
        num.parse().ok()
    };
    let fps = |name: &str| median_ns(name).map(|ns| BATCH as f64 / (ns * 1e-9));
    let names = [
        "hemiwatch_authenticated",
        "mavlink_v2_heartbeat_signed",
        "hemiwatch_unauthenticated",
        "mavlink_v2_heartbeat",
    ];
    let Some([auth, signed, plain, unsigned]) = names
        .iter()
        .map(|n| fps(n))
        .collect::<Option<Vec<f64>>>()
        .and_then(|v| <[f64; 4]>::try_from(v).ok())
    else {
        println!("(criterion estimates not found; run without --test/--list to measure)");
        return;
    };
    // Bytes on the wire per frame, from the very streams measured (COBS overhead and delimiter
    // included for Hemiwatch; MAVLink has no framing beyond its own header).
    let per_frame = |s: &[u8]| s.len() as f64 / BATCH as f64;
    let (a, b) = (per_frame(&hw_stream), per_frame(&mav_signed));
    let (c, d) = (per_frame(&hw_plain), per_frame(&mav_plain));
    println!();
    println!("| bytes on the wire per frame | Hemiwatch Telemetry, 2 temps | MAVLink v2 HEARTBEAT | ratio |");
    println!("|---|---:|---:|---:|");
    println!("| authenticated / signed | {a:.1} | {b:.1} | {:.2} |", a / b);
    println!("| unauthenticated / unsigned | {c:.1} | {d:.1} | {:.2} |", c / d);
    println!();
    println!("| receive path, one core (decode + CRC + MAC + anti-replay)  | frames/s   | baseline frames/s | ratio |");
    println!("|--------------------------------------------------------------|-----------:|------------------:|------:|");
    println!("| authenticated Telemetry vs mavlink signed HEARTBEAT (SHA-256) | {auth:>10.0} | {signed:>17.0} | {:.2} |", auth / signed);
    println!("| unauthenticated Telemetry vs mavlink unsigned HEARTBEAT        | {plain:>10.0} | {unsigned:>17.0} | {:.2} |", plain / unsigned);
    println!();
    println!(
        "target: >= 1,000,000 authenticated frames/s/core: {}; ratio authenticated vs signed MAVLink >= 1.0: {}",
        if auth >= 1e6 { "met" } else { "MISSED" },
        if auth >= signed { "met" } else { "MISSED" }
    );
}
