//! Fixtures shared by the protocol's integration tests: one message of every kind, fixed keys,
//! and helpers to decode a wire buffer.
#![allow(dead_code)]

use hemiwatch_protocol::*;

/// The key of the fixtures; the golden vectors are MACed with it.
pub const KEY: SeatKey = SeatKey([
    0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c,
]);
/// Another seat's key, for masquerade tests.
pub const OTHER_KEY: SeatKey = SeatKey([0x55; 16]);
/// A seat id in the 2-byte address range, like most of the 577.
pub const SEAT: SeatId = 577;

/// A typical telemetry sample: ten hours up, 45.00 °C and 38.50 °C, 3.30 V.
pub fn telemetry() -> Telemetry {
    let mut temps = heapless::Vec::new();
    temps.push(4500).unwrap();
    temps.push(3850).unwrap();
    Telemetry {
        uptime_min: 600,
        flags: Flags::from_bits(Flags::FAILOVER_ACTIVE),
        temps,
        supply_mv: 3300,
    }
}

pub fn hello() -> Hello {
    Hello {
        protocol_minor: PROTOCOL_MINOR,
        firmware: FirmwareVersion {
            major: 1,
            minor: 2,
            patch: 3,
        },
        board: BoardKind::BlackPillF411,
        boot_id: 0xDEAD_BEEF,
        counter: 0,
        sensors: 0b11,
        reset: ResetCause::Watchdog,
        period_ms: 500,
    }
}

/// One message of every kind, with a file name for its golden vector, in the order of a real
/// conversation (the handshake first).
pub fn every_message() -> Vec<(&'static str, Message)> {
    vec![
        ("hello", Message::Hello(hello())),
        (
            "session",
            Message::Session(Session {
                nonce: 0x0123_4567_89AB_CDEF,
                boot_id: 0xDEAD_BEEF,
                hello_counter: 0,
            }),
        ),
        ("telemetry", Message::Telemetry(telemetry())),
        (
            "event",
            Message::Event(Event {
                code: FaultCode::SENSOR_LOST,
                detail: 1,
            }),
        ),
        (
            "ack",
            Message::Ack(Ack {
                counter: 7,
                of: MessageKind::Failover as u8,
                status: AckStatus::Ok,
            }),
        ),
        (
            "set_config",
            Message::SetConfig(SetConfig {
                period_ms: 500,
                trip_centi: 9000,
                trip_samples: 3,
            }),
        ),
        ("failover", Message::Failover(Failover { active: true })),
        ("identify", Message::Identify(Identify { seconds: 30 })),
        ("ping", Message::Ping(Ping {})),
    ]
}

/// Decodes every frame in `wire`, collecting results with owned messages.
pub fn decode_all(wire: &[u8]) -> Vec<Result<(Header, Message), FrameError>> {
    let mut dec = FrameDecoder::<MAX_WIRE>::new();
    let mut out = Vec::new();
    dec.feed(wire, |r| {
        out.push(r.and_then(|f| f.message().map(|m| (f.header, m))))
    });
    out
}

/// Opens a session between a fresh seat link and a host link; returns both.
pub fn open_session(boot_id: u32, nonce: u64) -> (SeatLink, HostLink) {
    let mut seat = SeatLink::new(SEAT, &KEY, boot_id);
    let mut host = HostLink::new(SEAT, Some(&KEY));
    let mut buf = [0u8; MAX_WIRE];
    let wire = seat.encode(&Message::Hello(hello()), &mut buf).unwrap().to_vec();
    let v = host_accept(&mut host, &wire).unwrap();
    let Message::Hello(h) = v.message else {
        panic!("not a hello")
    };
    let answer = host.respond_to_hello(&h, nonce, &mut buf).unwrap().to_vec();
    seat_accept(&mut seat, &answer).unwrap();
    (seat, host)
}

/// Feeds one wire frame to a host link.
pub fn host_accept(host: &mut HostLink, wire: &[u8]) -> Result<Verified, AuthError> {
    let mut dec = FrameDecoder::<MAX_WIRE>::new();
    let mut res = None;
    dec.feed(wire, |r| res = Some(host.accept(&r.expect("well-formed frame"))));
    res.expect("one frame")
}

/// Feeds one wire frame to a seat link.
pub fn seat_accept(seat: &mut SeatLink, wire: &[u8]) -> Result<(u32, Message), AuthError> {
    let mut dec = FrameDecoder::<MAX_WIRE>::new();
    let mut res = None;
    dec.feed(wire, |r| res = Some(seat.accept(&r.expect("well-formed frame"))));
    res.expect("one frame")
}

/// CRC-16/IBM-SDLC (the X.25 FCS) computed bit by bit from its entry in the CRC RevEng catalogue
/// (<https://reveng.sourceforge.io/crc-catalogue/16.htm#crc.cat.crc-16-ibm-sdlc>): width 16,
/// poly 0x1021 (0x8408 reflected), init 0xFFFF, refin and refout true, xorout 0xFFFF,
/// check 0x906E. Independent of the `crc` crate, so a test comparing against it pins the
/// algorithm itself; `tests/known_answers.rs` checks it against the catalogue's check value.
pub fn crc16_ibm_sdlc(bytes: &[u8]) -> u16 {
    let mut crc = 0xFFFFu16;
    for &byte in bytes {
        crc ^= u16::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0x8408
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// COBS-encodes `body` and appends the delimiter: a frame's wire bytes, built without the crate.
pub fn cobs_wire(body: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; body.len() + body.len() / 254 + 2];
    let n = cobs::try_encode(body, &mut out).unwrap();
    out.truncate(n);
    out.push(0);
    out
}

/// Undoes [`cobs_wire`]: the frame body of one wire frame (delimiter included or not).
pub fn cobs_body(wire: &[u8]) -> Vec<u8> {
    let mut buf = wire.strip_suffix(&[0]).unwrap_or(wire).to_vec();
    let n = cobs::decode_in_place(&mut buf).unwrap();
    buf.truncate(n);
    buf
}
