//! A stable-toolchain fuzz driver for the receive path (issue 12, item 13), for machines without
//! `cargo-fuzz`: the same targets as `fuzz/fuzz_targets/decode.rs` — the streaming decoder on raw
//! bytes — plus `HostLink::accept` on frames that pass the CRC (random kinds, payloads and MACs,
//! and payloads MACed with the right key so the decode after a good MAC is reached), against a
//! link with an open, two answered and four retired sessions. Inputs come from a seeded
//! xorshift generator, mutating genuine frames half of the time; a panic is a finding (rerun
//! with the printed seed).
//!
//! `cargo run --release -p hemiwatch-protocol --example fuzz_stable -- 10000000 [seed]`

use hemiwatch_protocol::auth::Authenticator;
use hemiwatch_protocol::*;

const KEY: SeatKey = SeatKey([0x33; 16]);
const SEAT: SeatId = 9;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn hello() -> Message {
    Message::Hello(Hello::simulated(500))
}

fn first_frame(wire: &[u8]) -> Option<OwnedFrame> {
    let mut dec = FrameDecoder::<MAX_WIRE>::new();
    let mut out = None;
    dec.feed(wire, |f| {
        if let Ok(f) = f {
            out.get_or_insert(f.to_owned());
        }
    });
    out
}

/// A link with every slot in use, and genuine wire frames of its open session to mutate.
fn busy() -> (HostLink, Vec<Vec<u8>>) {
    let mut host = HostLink::new(SEAT, Some(&KEY));
    let mut buf = [0u8; MAX_WIRE];
    let mut genuine = Vec::new();
    for boot in 1..=7u32 {
        let mut seat = SeatLink::new(SEAT, &KEY, boot);
        let h = seat.encode(&hello(), &mut buf).unwrap().to_vec();
        genuine.push(h.clone());
        let v = host.accept(&first_frame(&h).unwrap().as_raw()).unwrap();
        let Message::Hello(h) = v.message else {
            unreachable!()
        };
        let answer = host
            .respond_to_hello(&h, u64::from(boot), &mut buf)
            .unwrap()
            .to_vec();
        if boot <= 5 {
            seat.accept(&first_frame(&answer).unwrap().as_raw()).unwrap();
            for i in 0..300 {
                let msg = if i % 4 == 0 {
                    Message::Ack(Ack {
                        counter: i,
                        of: 12,
                        status: AckStatus::Ok,
                    })
                } else {
                    Message::Telemetry(Telemetry::default())
                };
                let w = seat.encode(&msg, &mut buf).unwrap().to_vec();
                host.accept(&first_frame(&w).unwrap().as_raw()).unwrap();
                genuine.push(w);
            }
        }
    }
    (host, genuine)
}

/// A frame body that passes the CRC: header, address, payload, optional MAC (random, or the
/// right key's tag over the random payload under a nonce and counter the link might use).
fn crc_valid_body(rng: &mut Rng, auth: &mut Authenticator) -> Vec<u8> {
    let authenticated = rng.next() & 1 == 0;
    let mut body = vec![(PROTOCOL_MAJOR << 5) | if authenticated { 0x10 } else { 0 } | (rng.below(16) as u8)];
    let addr = (u32::from(SEAT) << 4) | rng.below(16) as u32;
    let mut a = [0u8; 5];
    body.extend_from_slice(postcard::to_slice(&addr, &mut a).unwrap());
    let len = rng.below(40);
    body.extend((0..len).map(|_| rng.next() as u8));
    if authenticated {
        let tag = if rng.next().is_multiple_of(3) {
            auth.tag(rng.next() % 8, rng.below(2_000) as u32, &body)
        } else {
            rng.next().to_le_bytes()
        };
        body.extend_from_slice(&tag);
    }
    let crc = crc::Crc::<u16>::new(&crc::CRC_16_IBM_SDLC).checksum(&body);
    body.extend_from_slice(&crc.to_le_bytes());
    body
}

fn main() {
    let mut args = std::env::args().skip(1);
    let runs: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(1_000_000);
    let seed: u64 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(0x9E37_79B9_7F4A_7C15);
    println!("seed {seed}");
    let (template, genuine) = busy();
    let mut host = template.clone();
    let mut auth = Authenticator::new(&KEY);
    let mut rng = Rng(seed | 1);
    let mut dec = FrameDecoder::<MAX_WIRE>::new();
    let (mut frames, mut accepted, mut decoded) = (0u64, 0u64, 0u64);
    let started = std::time::Instant::now();
    for run in 0..runs {
        if run.is_multiple_of(100_000) {
            host = template.clone();
        }
        match run % 3 {
            // The decoder on mutated genuine wire bytes, in random chunks.
            0 => {
                let mut w = genuine[rng.below(genuine.len())].clone();
                for _ in 0..=rng.below(4) {
                    let i = rng.below(w.len());
                    w[i] ^= 1 << rng.below(8);
                }
                let chunk = 1 + rng.below(w.len());
                for part in w.chunks(chunk) {
                    dec.feed(part, |f| {
                        if let Ok(f) = f {
                            decoded += 1;
                            let _ = f.message();
                            accepted += u64::from(host.accept(&f).is_ok());
                        }
                    });
                }
            }
            // The decoder on raw random bytes.
            1 => {
                let bytes: Vec<u8> = (0..rng.below(64)).map(|_| rng.next() as u8).collect();
                dec.feed(&bytes, |f| {
                    if let Ok(f) = f {
                        decoded += 1;
                        let _ = host.accept(&f);
                    }
                });
            }
            // HostLink::accept on CRC-valid frames.
            _ => {
                let body = crc_valid_body(&mut rng, &mut auth);
                if let Ok(f) = parse_body(&body) {
                    frames += 1;
                    let _ = f.message();
                    accepted += u64::from(host.accept(&f).is_ok());
                    let _ = host.accept_next(&f);
                }
            }
        }
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "{runs} inputs in {secs:.1} s ({:.0}/s): {decoded} frames out of the decoder, {frames} CRC-valid frames parsed, {accepted} accepted, no panic",
        runs as f64 / secs
    );
}
