//! Byte-exact frames for every message kind, checked in both directions: encoding the fixtures
//! must give the bytes in `tests/vectors/*.hex`, and decoding (and verifying) those bytes must give
//! the fixtures back. A change here is a wire-format change: bump the protocol version.
//! Regenerate deliberately with `HEMIWATCH_BLESS=1 cargo test -p hemiwatch-protocol --test golden_vectors`:
//! a blessed run writes the files and then fails on purpose, naming the vectors it changed, so a
//! bless can never pass as a test run; review the diff and run again without the variable. A normal
//! run fails when a vector file is missing, and when the directory holds a vector no test checks.
mod common;
use common::*;
use hemiwatch_protocol::*;
use std::path::PathBuf;

/// Runs the fixed conversation that produces every vector: handshake, uplink, downlink.
fn conversation() -> Vec<(&'static str, Message, Vec<u8>)> {
    let mut seat = SeatLink::new(SEAT, &KEY, 0xDEAD_BEEF);
    let mut host = HostLink::new(SEAT, Some(&KEY));
    let mut buf = [0u8; MAX_WIRE];
    let mut out = Vec::new();
    for (name, msg) in every_message() {
        let wire = match &msg {
            Message::Session(s) => host
                .respond_to_hello(&hello(), s.nonce, &mut buf)
                .unwrap()
                .to_vec(),
            m if m.kind().is_uplink() => seat.encode(m, &mut buf).unwrap().to_vec(),
            m => host.encode(m, &mut buf).unwrap().1.to_vec(),
        };
        // Keep both ends in step so later frames verify like on a real line.
        if msg.kind().is_uplink() {
            host_accept(&mut host, &wire).unwrap();
        } else {
            seat_accept(&mut seat, &wire).unwrap();
        }
        out.push((name, msg, wire));
    }
    let mut plain = [0u8; MAX_WIRE];
    let wire = encode_unauthenticated(SEAT, 5, &Message::Telemetry(telemetry()), &mut plain)
        .unwrap()
        .to_vec();
    out.push(("telemetry_unauthenticated", Message::Telemetry(telemetry()), wire));
    out
}

fn vector_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/vectors")
        .join(format!("{name}.hex"))
}

fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex(text: &str) -> Vec<u8> {
    let t = text.trim();
    (0..t.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&t[i..i + 2], 16).unwrap())
        .collect()
}

fn blessing() -> bool {
    std::env::var_os("HEMIWATCH_BLESS").is_some()
}

/// The vector `name` as stored; a missing file fails the test.
fn read_vector(name: &str) -> String {
    let path = vector_path(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "vector {name} is missing ({}: {e}); create it with HEMIWATCH_BLESS=1",
            path.display()
        )
    })
}

#[test]
fn encoding_matches_the_vectors() {
    if blessing() {
        let mut changed = Vec::new();
        for (name, _, wire) in conversation() {
            let hex = to_hex(&wire) + "\n";
            if std::fs::read_to_string(vector_path(name)).ok().as_deref() != Some(hex.as_str()) {
                std::fs::write(vector_path(name), hex).unwrap();
                changed.push(name);
            }
        }
        panic!(
            "HEMIWATCH_BLESS is set: vectors regenerated, nothing compared, so this run fails on purpose \
             (changed: {changed:?}). A changed vector is a wire-format change: review \
             `git diff protocol/tests/vectors`, then run the tests again without HEMIWATCH_BLESS."
        );
    }
    for (name, _, wire) in conversation() {
        assert_eq!(to_hex(&wire), read_vector(name).trim(), "vector {name} changed");
    }
}

#[test]
fn every_vector_file_is_checked() {
    let mut names: Vec<&str> = every_message().into_iter().map(|(name, _)| name).collect();
    names.push("telemetry_unauthenticated");
    names.push("beacon");
    names.extend(later_reset_causes().map(|(name, _)| name));
    names.sort_unstable();
    let dir = vector_path("x").parent().unwrap().to_path_buf();
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .filter_map(|file| file.strip_suffix(".hex").map(str::to_owned))
        .collect();
    files.sort_unstable();
    assert_eq!(
        files, names,
        "tests/vectors/*.hex against the messages the tests encode"
    );
}

#[test]
fn the_vectors_decode_to_the_fixtures() {
    // Replaying the vectors in order through fresh links must verify every one of them.
    let mut seat = SeatLink::new(SEAT, &KEY, 0xDEAD_BEEF);
    let mut host = HostLink::new(SEAT, Some(&KEY));
    let mut buf = [0u8; MAX_WIRE];
    seat.encode(&Message::Hello(hello()), &mut buf).unwrap(); // the seat's own send of the hello
    for (name, msg) in every_message()
        .into_iter()
        .chain([("telemetry_unauthenticated", Message::Telemetry(telemetry()))])
    {
        let bytes = from_hex(&read_vector(name));
        let decoded = decode_all(&bytes);
        assert_eq!(decoded.len(), 1, "{name}: one frame");
        let (header, decoded) = decoded.into_iter().next().unwrap().unwrap();
        assert_eq!(header.seat, SEAT, "{name}");
        assert_eq!(decoded, msg, "{name}");
        if name == "telemetry_unauthenticated" {
            assert!(!header.authenticated);
        } else if msg.kind().is_uplink() {
            if name != "hello" {
                seat.encode(&msg, &mut buf).unwrap(); // keep the seat's counter in step
            }
            host_accept(&mut host, &bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        } else if name == "session" {
            seat_accept(&mut seat, &bytes).unwrap();
            host.respond_to_hello(&hello(), 0x0123_4567_89AB_CDEF, &mut buf)
                .unwrap();
        } else {
            seat_accept(&mut seat, &bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }
}

/// The bus-access beacon is not a session message (unauthenticated, addressed to every seat), so it
/// has its own vector: round 5 opening seats 577..=600, the hardware jitter budget, epoch 7.
fn beacon() -> bus::Beacon {
    bus::Beacon {
        first: SEAT,
        count: 24,
        jitter_us: 20,
        epoch: 7,
    }
}

#[test]
fn the_beacon_matches_its_vector_and_decodes_back() {
    let mut buf = [0u8; MAX_WIRE];
    let wire = beacon().encode(5, &mut buf).unwrap().to_vec();
    if blessing() {
        std::fs::write(vector_path("beacon"), to_hex(&wire) + "\n").unwrap();
        panic!("HEMIWATCH_BLESS is set: the beacon vector was regenerated, nothing compared");
    }
    assert_eq!(
        to_hex(&wire),
        read_vector("beacon").trim(),
        "vector beacon changed"
    );
    let bytes = from_hex(&read_vector("beacon"));
    let mut dec = FrameDecoder::<MAX_WIRE>::new();
    let mut got = Vec::new();
    dec.feed(&bytes, |r| {
        let f = r.expect("the beacon vector is a valid frame");
        assert_eq!(f.header.kind, MessageKind::Beacon);
        assert!(!f.header.authenticated);
        got.push(bus::Beacon::from_frame(&f));
    });
    assert_eq!(got, vec![Some(beacon())]);
}

/// Reset causes added after the first vectors (wire-additive: new enum indices at the end), each
/// in a `Hello` from a fresh seat link, so no existing vector moves.
fn later_reset_causes() -> [(&'static str, ResetCause); 2] {
    [
        ("hello_reset_panic", ResetCause::Panic),
        ("hello_reset_brown_out", ResetCause::BrownOut),
    ]
}

#[test]
fn the_later_reset_causes_match_their_vectors_and_decode_back() {
    for (name, reset) in later_reset_causes() {
        let msg = Message::Hello(Hello { reset, ..hello() });
        let mut seat = SeatLink::new(SEAT, &KEY, 0xDEAD_BEEF);
        let mut buf = [0u8; MAX_WIRE];
        let wire = seat.encode(&msg, &mut buf).unwrap().to_vec();
        if blessing() {
            std::fs::write(vector_path(name), to_hex(&wire) + "\n").unwrap();
            continue;
        }
        assert_eq!(to_hex(&wire), read_vector(name).trim(), "vector {name} changed");
        // The same bytes as the original hello vector but for the reset byte.
        let original = from_hex(&read_vector("hello"));
        let differing = original.iter().zip(&wire).filter(|(a, b)| a != b).count();
        assert!(differing >= 1 && original.len() == wire.len(), "{name}");
        let mut host = HostLink::new(SEAT, Some(&KEY));
        let v = host_accept(&mut host, &wire).unwrap();
        assert_eq!(v.message, msg, "{name}");
    }
    assert!(
        !blessing(),
        "HEMIWATCH_BLESS is set: reset-cause vectors regenerated, nothing compared"
    );
}
