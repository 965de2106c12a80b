//! Property tests of the codec: round trips, robustness to arbitrary bytes, chunking, bit flips.
mod common;
use common::*;
use hemiwatch_protocol::*;
use proptest::prelude::*;

fn arb_temps() -> impl Strategy<Value = heapless::Vec<i16, MAX_TEMPS>> {
    prop::collection::vec(any::<i16>(), 0..=MAX_TEMPS).prop_map(|v| heapless::Vec::from_slice(&v).unwrap())
}

fn arb_message() -> impl Strategy<Value = Message> {
    prop_oneof![
        (
            any::<u8>(),
            any::<[u8; 3]>(),
            0u8..3,
            any::<u32>(),
            any::<u32>(),
            any::<u8>(),
            0u8..6,
            any::<u16>()
        )
            .prop_map(
                |(minor, fw, board, boot_id, counter, sensors, reset, period_ms)| {
                    Message::Hello(Hello {
                        protocol_minor: minor,
                        firmware: FirmwareVersion {
                            major: fw[0],
                            minor: fw[1],
                            patch: fw[2],
                        },
                        board: [
                            BoardKind::QemuLm3s6965,
                            BoardKind::BlackPillF411,
                            BoardKind::Simulated,
                        ][board as usize],
                        boot_id,
                        counter,
                        sensors,
                        reset: [
                            ResetCause::PowerOn,
                            ResetCause::Watchdog,
                            ResetCause::Software,
                            ResetCause::External,
                            ResetCause::Panic,
                            ResetCause::BrownOut,
                        ][reset as usize],
                        period_ms,
                    })
                }
            ),
        (any::<u32>(), any::<u8>(), arb_temps(), any::<u16>()).prop_map(
            |(uptime_min, f, temps, supply_mv)| {
                Message::Telemetry(Telemetry {
                    uptime_min,
                    flags: Flags::from_bits(f),
                    temps,
                    supply_mv,
                })
            }
        ),
        (any::<u8>(), any::<i16>()).prop_map(|(c, detail)| Message::Event(Event {
            code: FaultCode(c),
            detail
        })),
        (any::<u32>(), any::<u8>(), any::<bool>()).prop_map(|(counter, of, ok)| Message::Ack(Ack {
            counter,
            of,
            status: if ok { AckStatus::Ok } else { AckStatus::Rejected }
        })),
        (any::<u64>(), any::<u32>(), any::<u32>()).prop_map(|(nonce, boot_id, hello_counter)| {
            Message::Session(Session {
                nonce,
                boot_id,
                hello_counter,
            })
        }),
        (any::<u16>(), any::<i16>(), any::<u8>()).prop_map(|(period_ms, trip_centi, trip_samples)| {
            Message::SetConfig(SetConfig {
                period_ms,
                trip_centi,
                trip_samples,
            })
        }),
        any::<bool>().prop_map(|active| Message::Failover(Failover { active })),
        any::<u8>().prop_map(|seconds| Message::Identify(Identify { seconds })),
        Just(Message::Ping(Ping {})),
    ]
}

fn frames_of(msgs: &[(SeatId, u32, Message)]) -> Vec<u8> {
    let mut wire = Vec::new();
    let mut buf = [0u8; MAX_WIRE];
    for (seat, counter, m) in msgs {
        wire.extend_from_slice(encode_unauthenticated(*seat, *counter, m, &mut buf).unwrap());
    }
    wire
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn every_message_round_trips(seat in any::<SeatId>(), counter in any::<u32>(), msg in arb_message()) {
        let wire = frames_of(&[(seat, counter, msg.clone())]);
        let decoded = decode_all(&wire);
        prop_assert_eq!(decoded.len(), 1);
        let (h, m) = decoded[0].clone().unwrap();
        prop_assert_eq!(h.seat, seat);
        prop_assert_eq!(h.counter_low, (counter & 0xF) as u8);
        prop_assert_eq!(m, msg);
    }

    #[test]
    fn arbitrary_bytes_never_panic_the_decoder(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let mut dec = FrameDecoder::<MAX_WIRE>::new();
        let mut n = 0usize;
        dec.feed(&bytes, |r| { n += 1; if let Ok(f) = r { let _ = f.message(); } });
        prop_assert!(n <= bytes.len());
        // And a host link never panics on whatever decoded.
        let mut host = HostLink::new(SEAT, Some(&KEY));
        dec.feed(&bytes, |r| { if let Ok(f) = r { let _ = host.accept(&f); } });
    }

    #[test]
    fn chunking_does_not_change_the_result(
        msgs in prop::collection::vec((any::<SeatId>(), any::<u32>(), arb_message()), 1..8),
        garbage in prop::collection::vec(any::<u8>(), 0..40),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let mut wire = garbage.clone();
        wire.push(0);
        wire.extend(frames_of(&msgs));
        let whole = decode_all(&wire);
        let mut points: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
        points.sort_unstable();
        let mut dec = FrameDecoder::<MAX_WIRE>::new();
        let mut chunked = Vec::new();
        let mut start = 0;
        for p in points.into_iter().chain([wire.len()]) {
            dec.feed(&wire[start..p], |r| chunked.push(r.and_then(|f| f.message().map(|m| (f.header, m)))));
            start = p;
        }
        prop_assert_eq!(&whole, &chunked);
        // Resynchronisation: after the garbage, every real frame decodes.
        let good: Vec<_> = whole.iter().filter_map(|r| r.as_ref().ok()).map(|(_, m)| m.clone()).collect();
        let sent: Vec<_> = msgs.iter().map(|(_, _, m)| m.clone()).collect();
        prop_assert_eq!(good, sent);
    }

    #[test]
    fn every_single_bit_flip_is_rejected(msg in arb_message(), authenticated in any::<bool>()) {
        let mut buf = [0u8; MAX_WIRE];
        let wire = if authenticated && msg.kind().is_uplink() && msg.kind() != MessageKind::Hello {
            let (mut seat, _) = open_session(3, 4);
            seat.encode(&msg, &mut buf).unwrap().to_vec()
        } else {
            encode_unauthenticated(SEAT, 9, &msg, &mut buf).unwrap().to_vec()
        };
        for bit in 0..wire.len() * 8 {
            let mut flipped = wire.clone();
            flipped[bit / 8] ^= 1 << (bit % 8);
            for r in decode_all(&flipped) {
                // A flip may split the frame or merge it with nothing, but never yield the
                // original message or any other frame that passes the CRC.
                prop_assert!(r.is_err(), "bit {} of {:02x?} decoded: {:?}", bit, wire, r);
            }
        }
    }
}
