//! Pins the frame-size budget of the issue: an authenticated `Telemetry` with two temperatures is
//! at most 24 bytes on the wire (COBS overhead and delimiter included), 16 unauthenticated.
//! MAVLink v2 HEARTBEAT, the reference: 34 bytes signed, 21 unsigned.
mod common;
use common::*;
use hemiwatch_protocol::*;

#[test]
fn authenticated_telemetry_fits_24_bytes() {
    let (mut seat, _host) = open_session(1, 2);
    let mut buf = [0u8; MAX_WIRE];
    let wire = seat.encode(&Message::Telemetry(telemetry()), &mut buf).unwrap();
    println!("authenticated telemetry, 2 temps: {} bytes", wire.len());
    assert!(wire.len() <= 24, "{} bytes", wire.len());
    assert_eq!(
        wire.len(),
        24,
        "the budget figure moved: update the README and this test"
    );
}

#[test]
fn unauthenticated_telemetry_fits_16_bytes() {
    let mut buf = [0u8; MAX_WIRE];
    let wire = encode_unauthenticated(SEAT, 1234, &Message::Telemetry(telemetry()), &mut buf).unwrap();
    println!("unauthenticated telemetry, 2 temps: {} bytes", wire.len());
    assert!(wire.len() <= 16, "{} bytes", wire.len());
}

#[test]
fn the_envelope_edges_cost_one_byte_each() {
    let mut buf = [0u8; MAX_WIRE];
    let base = encode_unauthenticated(SEAT, 0, &Message::Telemetry(telemetry()), &mut buf)
        .unwrap()
        .len();
    let mut t = telemetry();
    t.uptime_min = 16_383; // last 2-byte varint: 11.4 days
    t.temps[0] = 8191; // last 2-byte zig-zag varint: 81.91 °C
    let edge = encode_unauthenticated(1023, 0, &Message::Telemetry(t.clone()), &mut buf)
        .unwrap()
        .len();
    assert_eq!(edge, base);
    t.temps[0] = 8500;
    let hot = encode_unauthenticated(1023, 0, &Message::Telemetry(t), &mut buf)
        .unwrap()
        .len();
    assert_eq!(hot, base + 1);
}

#[test]
fn worst_case_frames_fit_the_decoder() {
    let (mut seat, _host) = open_session(u32::MAX, 2);
    let mut buf = [0u8; MAX_WIRE];
    let mut h = hello();
    h.boot_id = u32::MAX;
    h.period_ms = u16::MAX;
    let wire = seat.encode(&Message::Hello(h), &mut buf).unwrap();
    assert!(wire.len() <= MAX_WIRE);
    let mut t = telemetry();
    t.uptime_min = u32::MAX;
    t.supply_mv = u16::MAX;
    t.temps = heapless::Vec::from_slice(&[i16::MIN; MAX_TEMPS]).unwrap();
    let wire = seat.encode(&Message::Telemetry(t), &mut buf).unwrap();
    assert!(wire.len() <= MAX_WIRE);
}
