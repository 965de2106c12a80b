//! The frame sizes the bus arithmetic uses ([`bus::FrameSizes::MEASURED`]) are the sizes of frames
//! this protocol really encodes, and the bus-access frames do not disturb the session layer.
mod common;
use common::*;
use hemiwatch_protocol::*;

#[test]
fn the_bus_arithmetic_uses_the_encoded_sizes() {
    let sizes = bus::FrameSizes::MEASURED;
    let (mut seat, mut host) = open_session(1, 2);
    let mut buf = [0u8; MAX_WIRE];
    let telemetry = seat
        .encode(&Message::Telemetry(telemetry()), &mut buf)
        .unwrap()
        .to_vec();
    assert_eq!(telemetry.len(), sizes.telemetry, "authenticated telemetry");
    // The host commands a session only after the seat's first frame under it.
    host_accept(&mut host, &telemetry).unwrap();
    let failover = host
        .encode(&Message::Failover(Failover { active: true }), &mut buf)
        .unwrap()
        .1
        .len();
    assert_eq!(failover, sizes.command, "authenticated Failover");
    let ack = seat
        .encode(
            &Message::Ack(Ack {
                counter: u32::MAX,
                of: MessageKind::Ping as u8,
                status: AckStatus::Ok,
            }),
            &mut buf,
        )
        .unwrap()
        .len();
    assert_eq!(ack, sizes.ack, "authenticated Ack, largest counter");
    let hello = SeatLink::new(SEAT, &KEY, 0xDEAD_BEEF)
        .encode(&Message::Hello(hello()), &mut buf)
        .unwrap()
        .len();
    assert_eq!(hello, sizes.longest_turn, "Hello, the longest frame of a turn");
    // The longest beacon for a hemicycle on hardware timing: a first seat id ≥ 128 takes a
    // 2-byte varint; the jitter budget (20 µs) and the epoch one byte each. A line with a jitter
    // budget of 128 µs or more (a pty, QEMU) sends one byte more.
    let beacon = bus::Beacon {
        epoch: 255,
        ..bus::Beacon::new(577, bus::MAX_ROUND_SEATS)
    };
    assert_eq!(beacon.encode(15, &mut buf).unwrap().len(), sizes.beacon, "beacon");
}

#[test]
fn a_beacon_is_not_a_message_and_not_uplink() {
    let mut buf = [0u8; MAX_WIRE];
    let wire = bus::Beacon::new(1, 32).encode(0, &mut buf).unwrap().to_vec();
    let decoded = decode_all(&wire);
    assert_eq!(decoded.len(), 1);
    assert_eq!(
        decoded[0].as_ref().unwrap_err(),
        &FrameError::BadPayload,
        "the session layer's decode refuses it; bus::Beacon::from_frame reads it"
    );
    assert!(!MessageKind::Beacon.is_uplink());
    assert_eq!(MessageKind::from_bits(13), Some(MessageKind::Beacon));
}
