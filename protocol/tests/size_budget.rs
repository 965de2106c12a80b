//! Pins the frame-size budget of the issue, measured on frames that really cross the receive path:
//! an authenticated `Telemetry` with two temperatures is exactly 24 bytes on the wire (COBS
//! overhead and delimiter included), 16 unauthenticated; MAVLink v2 HEARTBEAT, the reference, is
//! 34 bytes signed, 21 unsigned. And pins the decoder's capacity against the worst case: the
//! largest frame of each large kind (`Telemetry`, `Hello`, `Session`) is encoded, fed byte by byte
//! through [`FrameDecoder`] into the link that verifies it, and comes back equal to what was sent;
//! a frame one byte longer than the decoder holds is refused as [`FrameError::TooLong`], never
//! truncated into something else.
mod common;
use common::*;
use hemiwatch_protocol::*;

/// The highest seat id: its address field is the longest varint (3 bytes).
const LAST_SEAT: SeatId = SeatId::MAX;

/// Feeds `wire` to a fresh decoder one byte per call, as a UART interrupt would; returns every
/// report in order.
fn decode_byte_by_byte(wire: &[u8]) -> Vec<Result<OwnedFrame, FrameError>> {
    let mut dec = FrameDecoder::<MAX_WIRE>::new();
    let mut out = Vec::new();
    for byte in wire {
        dec.feed(core::slice::from_ref(byte), |r| out.push(r.map(|f| f.to_owned())));
    }
    out
}

/// The single frame `wire` decodes to; panics on anything else.
fn one_frame(wire: &[u8]) -> OwnedFrame {
    let mut frames = decode_byte_by_byte(wire);
    assert_eq!(frames.len(), 1, "one frame in {wire:02x?}");
    frames.pop().unwrap().expect("the decoder accepts the frame")
}

/// Opens a session like [`open_session`], for any seat id.
fn open_session_for(seat_id: SeatId, boot_id: u32, nonce: u64) -> (SeatLink, HostLink) {
    let mut seat = SeatLink::new(seat_id, &KEY, boot_id);
    let mut host = HostLink::new(seat_id, Some(&KEY));
    let mut buf = [0u8; MAX_WIRE];
    let wire = seat.encode(&Message::Hello(hello()), &mut buf).unwrap().to_vec();
    let Message::Hello(h) = host.accept(&one_frame(&wire).as_raw()).unwrap().message else {
        panic!("not a hello")
    };
    let answer = host.respond_to_hello(&h, nonce, &mut buf).unwrap().to_vec();
    seat.accept(&one_frame(&answer).as_raw()).unwrap();
    (seat, host)
}

#[test]
fn authenticated_telemetry_fits_24_bytes() {
    let (mut seat, mut host) = open_session(1, 2);
    let mut buf = [0u8; MAX_WIRE];
    let wire = seat.encode(&Message::Telemetry(telemetry()), &mut buf).unwrap();
    println!("authenticated telemetry, 2 temps: {} bytes", wire.len());
    assert!(wire.len() <= 24, "{} bytes", wire.len());
    assert_eq!(
        wire.len(),
        24,
        "the budget figure moved: update the README and this test"
    );
    let verified = host.accept(&one_frame(wire).as_raw()).unwrap();
    assert_eq!(verified.message, Message::Telemetry(telemetry()));
}

#[test]
fn unauthenticated_telemetry_fits_16_bytes() {
    let mut buf = [0u8; MAX_WIRE];
    let wire = encode_unauthenticated(SEAT, 1234, &Message::Telemetry(telemetry()), &mut buf).unwrap();
    println!("unauthenticated telemetry, 2 temps: {} bytes", wire.len());
    assert!(wire.len() <= 16, "{} bytes", wire.len());
    assert_eq!(
        wire.len(),
        16,
        "the budget figure moved: update the README and this test"
    );
    let mut keyless_host = HostLink::new(SEAT, None);
    let verified = keyless_host.accept(&one_frame(wire).as_raw()).unwrap();
    assert_eq!(verified.message, Message::Telemetry(telemetry()));
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
fn the_largest_telemetry_fits_the_decoder() {
    // The largest telemetry: every field at the value with the longest varint, all channels.
    let (mut seat, mut host) = open_session_for(LAST_SEAT, u32::MAX, u64::MAX);
    let t = Telemetry {
        uptime_min: u32::MAX,
        flags: Flags::from_bits(Flags::ALL),
        temps: heapless::Vec::from_slice(&[i16::MIN, i16::MAX, i16::MIN, i16::MAX]).unwrap(),
        supply_mv: u16::MAX,
    };
    assert_eq!(t.temps.len(), MAX_TEMPS);
    // A buffer larger than MAX_WIRE, so that the length below is measured, not imposed.
    let mut buf = [0u8; 2 * MAX_WIRE];
    let wire = seat.encode(&Message::Telemetry(t.clone()), &mut buf).unwrap();
    // hdr 1 + address 3 + payload (5 + 1 + 4 × 3 + 3) + MAC 8 + CRC 2 = 35; COBS 1; delimiter 1.
    assert_eq!(wire.len(), 37, "largest telemetry frame");
    assert!(wire.len() <= MAX_WIRE);
    let verified = host.accept(&one_frame(wire).as_raw()).unwrap();
    assert_eq!(verified.message, Message::Telemetry(t));
    assert_eq!(
        verified.session,
        SessionChange::Established {
            boot_id: u32::MAX,
            new_boot: true
        }
    );
}

/// The largest `Hello`: every field at its longest encoding, the frame counter included. A link
/// fills the counter in from its own count of frames, and a seat up long enough to have sent 2^28
/// frames (4 years at 2 Hz) re-hellos with a 5-byte one; no test can run that long, so the frame is
/// assembled here by the layout of `frame.rs`, after checking that the same assembly reproduces a
/// real link's `Hello` byte for byte.
#[test]
fn the_largest_hello_fits_the_decoder() {
    fn assemble(seat: SeatId, h: &Hello) -> Vec<u8> {
        let mut body = vec![(PROTOCOL_MAJOR << 5) | 0x10 | (h.counter & 0x0F) as u8];
        let mut field = [0u8; MAX_BODY];
        let addr = (u32::from(seat) << 4) | MessageKind::Hello as u32;
        body.extend_from_slice(postcard::to_slice(&addr, &mut field).unwrap());
        body.extend_from_slice(postcard::to_slice(h, &mut field).unwrap());
        let tag = Authenticator::new(&KEY).tag(0, h.counter, &body);
        body.extend_from_slice(&tag);
        body.extend_from_slice(&crc16_ibm_sdlc(&body).to_le_bytes());
        cobs_wire(&body)
    }
    let mut h = Hello {
        protocol_minor: u8::MAX,
        firmware: FirmwareVersion {
            major: u8::MAX,
            minor: u8::MAX,
            patch: u8::MAX,
        },
        board: BoardKind::Simulated,
        boot_id: u32::MAX,
        counter: 0,
        sensors: u8::MAX,
        reset: ResetCause::External,
        period_ms: u16::MAX,
    };
    let mut buf = [0u8; 2 * MAX_WIRE];
    let real = SeatLink::new(LAST_SEAT, &KEY, u32::MAX)
        .encode(&Message::Hello(h.clone()), &mut buf)
        .unwrap()
        .to_vec();
    assert_eq!(
        assemble(LAST_SEAT, &h),
        real,
        "the assembly is the link's encoding"
    );

    h.counter = u32::MAX;
    let wire = assemble(LAST_SEAT, &h);
    // hdr 1 + address 3 + payload (1 + 3 + 1 + 5 + 5 + 1 + 1 + 3) + MAC 8 + CRC 2 = 34; COBS 1;
    // delimiter 1.
    assert_eq!(wire.len(), 36, "largest hello frame");
    assert!(wire.len() <= MAX_WIRE);
    let mut host = HostLink::new(LAST_SEAT, Some(&KEY));
    let verified = host.accept(&one_frame(&wire).as_raw()).unwrap();
    assert_eq!(verified.message, Message::Hello(h));
    assert_eq!(verified.counter, u32::MAX);
}

#[test]
fn the_largest_session_fits_the_decoder() {
    let mut seat = SeatLink::new(LAST_SEAT, &KEY, u32::MAX);
    let mut host = HostLink::new(LAST_SEAT, Some(&KEY));
    let mut buf = [0u8; 2 * MAX_WIRE];
    let hello_wire = seat.encode(&Message::Hello(hello()), &mut buf).unwrap().to_vec();
    let Message::Hello(sent) = host.accept(&one_frame(&hello_wire).as_raw()).unwrap().message else {
        panic!("not a hello")
    };

    // Every field at its longest encoding, for a Hello counter this seat has not reached: the seat
    // decodes it, verifies its MAC, and refuses it only as not answering any Hello it sent.
    let longest = Hello {
        counter: u32::MAX,
        ..sent.clone()
    };
    let wire = host.respond_to_hello(&longest, u64::MAX, &mut buf).unwrap();
    // hdr 1 + address 3 + payload (10 + 5 + 5) + MAC 8 + CRC 2 = 34; COBS 1; delimiter 1.
    assert_eq!(wire.len(), 36, "largest session frame");
    assert!(wire.len() <= MAX_WIRE);
    let frame = one_frame(wire);
    let expected = Session {
        nonce: u64::MAX,
        boot_id: u32::MAX,
        hello_counter: u32::MAX,
    };
    assert_eq!(frame.as_raw().message().unwrap(), Message::Session(expected));
    assert_eq!(seat.accept(&frame.as_raw()).unwrap_err(), AuthError::StaleSession);

    // The same, answering the Hello the seat did send: accepted and applied.
    let wire = host.respond_to_hello(&sent, u64::MAX, &mut buf).unwrap();
    let (_, message) = seat.accept(&one_frame(wire).as_raw()).unwrap();
    assert_eq!(
        message,
        Message::Session(Session {
            nonce: u64::MAX,
            boot_id: u32::MAX,
            hello_counter: 0,
        })
    );
}

#[test]
fn a_frame_one_byte_over_the_decoder_capacity_is_refused_as_too_long() {
    // The decoder holds MAX_WIRE bytes between delimiters. A body of n bytes (n < 254) is n + 1
    // bytes of COBS, so a body of MAX_WIRE - 1 bytes exactly fills the decoder, one more overflows.
    fn frame_with_body_len(n: usize) -> Vec<u8> {
        let mut body = vec![(PROTOCOL_MAJOR << 5) | 0x01];
        let addr = (u32::from(SEAT) << 4) | MessageKind::Event as u32;
        let mut field = [0u8; 8];
        body.extend_from_slice(postcard::to_slice(&addr, &mut field).unwrap());
        body.resize(n - 2, 0x5A);
        body.extend_from_slice(&crc16_ibm_sdlc(&body).to_le_bytes());
        let wire = cobs_wire(&body);
        assert_eq!(wire.len(), n + 2);
        wire
    }
    let mut buf = [0u8; MAX_WIRE];
    let next = encode_unauthenticated(SEAT, 1, &Message::Telemetry(telemetry()), &mut buf).unwrap();

    let full = frame_with_body_len(MAX_WIRE - 1);
    let frame = one_frame(&full);
    assert_eq!(
        frame.as_raw().signed.len(),
        MAX_WIRE - 3,
        "whole body kept, CRC verified"
    );

    let mut stream = frame_with_body_len(MAX_WIRE);
    stream.extend_from_slice(next);
    let reports = decode_byte_by_byte(&stream);
    assert_eq!(
        reports.len(),
        2,
        "one report for the long frame, one for the next: {reports:?}"
    );
    assert_eq!(reports[0], Err(FrameError::TooLong));
    let resumed = reports[1].as_ref().expect("the next frame decodes");
    assert_eq!(
        resumed.as_raw().message().unwrap(),
        Message::Telemetry(telemetry())
    );
}
