//! Known-answer tests against the standards the wire is built on, so that a dependency update (or a
//! slip in the crate) cannot change the bytes on the wire without a test failing:
//!
//! - the MAC is AES-128-CMAC as specified by RFC 4493, checked against the RFC's own test vectors
//!   (section 4, examples 1 to 4) through [`Authenticator`], the code that MACs every frame,
//!   including the protocol's truncation to the tag's first [`MAC_LEN`] = 8 bytes;
//! - the frame checksum is CRC-16/IBM-SDLC (alias X-25, CRC-16/ISO-HDLC) from the CRC RevEng
//!   catalogue (<https://reveng.sourceforge.io/crc-catalogue/16.htm#crc.cat.crc-16-ibm-sdlc>:
//!   width=16 poly=0x1021 init=0xffff refin=true refout=true xorout=0xffff check=0x906e), checked
//!   through the frame parser and the frame encoder.
mod common;
use common::*;
use hemiwatch_protocol::*;

/// RFC 4493 section 4: the AES-128 key of every example (also the fixtures' [`KEY`]).
const RFC4493_KEY: [u8; 16] = [
    0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c,
];

/// RFC 4493 section 4: the 64-byte message; examples 1 to 4 MAC its first 0, 16, 40 and 64 bytes.
const RFC4493_MESSAGE: &str = "6bc1bee22e409f96e93d7e117393172a\
                               ae2d8a571e03ac9c9eb76fac45af8e51\
                               30c81c46a35ce411e5fbc1191a0a52ef\
                               f69f2445df4f9b17ad2b417be66c3710";

/// RFC 4493 section 4: (message length, full 128-bit AES-CMAC) of examples 1 to 4.
const RFC4493_EXAMPLES: [(usize, &str); 4] = [
    (0, "bb1d6929e95937287fa37d129b756746"),
    (16, "070a16b46b4d4144f79bdd9dd04a287c"),
    (40, "dfa66747de9ae63030ca32611497c827"),
    (64, "51f0bebf7e3b9d92fc49741779363cfe"),
];

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn the_mac_is_rfc_4493_aes_cmac_truncated_to_its_first_8_bytes() {
    assert_eq!(KEY.0, RFC4493_KEY, "the fixtures' key is RFC 4493's");
    assert_eq!(MAC_LEN, 8, "the protocol truncates the tag to 64 bits");
    let message = unhex(RFC4493_MESSAGE);
    assert_eq!(message.len(), 64);
    let mut auth = Authenticator::new(&SeatKey(RFC4493_KEY));
    for (example, (len, full_tag)) in RFC4493_EXAMPLES.iter().enumerate() {
        let full_tag = unhex(full_tag);
        assert_eq!(
            auth.truncated_cmac(&message[..*len]),
            full_tag[..MAC_LEN],
            "RFC 4493 example {} ({len}-byte message): the tag must be the first {MAC_LEN} bytes of {}",
            example + 1,
            RFC4493_EXAMPLES[example].1,
        );
    }
}

#[test]
fn a_frame_tag_is_the_truncated_cmac_of_domain_nonce_counter_and_frame_bytes() {
    // tag(nonce, counter, signed) = CMAC(key, "HWv1" | nonce LE | counter LE | signed)[..8]: the
    // freshness context fills exactly the first AES block, and the frame bytes follow.
    let mut auth = Authenticator::new(&KEY);
    let nonce = 0x0123_4567_89AB_CDEF_u64;
    let counter = 0xDEAD_BEEF_u32;
    for signed in [&b""[..], b"\x30\x91\x48", &[0xA5; 40]] {
        let mut message = b"HWv1".to_vec();
        message.extend_from_slice(&nonce.to_le_bytes());
        message.extend_from_slice(&counter.to_le_bytes());
        message.extend_from_slice(signed);
        assert_eq!(
            auth.tag(nonce, counter, signed),
            auth.truncated_cmac(&message),
            "{} frame bytes",
            signed.len()
        );
    }
}

#[test]
fn the_reference_crc_gives_the_catalogue_check_value() {
    assert_eq!(crc16_ibm_sdlc(b"123456789"), 0x906E);
}

#[test]
fn the_frame_parser_checks_crc_16_ibm_sdlc() {
    // "123456789" followed by the catalogue's check value, least significant byte first (the
    // frame's byte order), passes the CRC stage: the parser gets as far as the MAC trailer. The
    // first byte 0x31 reads as version 1, authenticated; '2' as seat 3, kind 2 (Event); the seven
    // bytes left cannot hold an 8-byte MAC, hence TooShort rather than BadCrc.
    let mut body = b"123456789".to_vec();
    body.extend_from_slice(&0x906E_u16.to_le_bytes());
    assert_eq!(
        parse_body(&body).unwrap_err(),
        FrameError::TooShort,
        "the catalogue's check value must pass the CRC stage"
    );
    let mut decoded = Vec::new();
    FrameDecoder::<MAX_WIRE>::new().feed(&cobs_wire(&body), |r| decoded.push(r.map(|_| ())));
    assert_eq!(decoded, [Err(FrameError::TooShort)], "through the stream decoder");

    // Any other trailer, including the check value in the wrong byte order, is a CRC error.
    for wrong in [0x906F_u16, 0x6E90, 0x0000] {
        let mut body = b"123456789".to_vec();
        body.extend_from_slice(&wrong.to_le_bytes());
        assert_eq!(
            parse_body(&body).unwrap_err(),
            FrameError::BadCrc,
            "trailer {wrong:#06x}"
        );
    }
}

#[test]
fn every_encoded_frame_ends_in_the_crc_16_ibm_sdlc_of_its_body() {
    let (mut seat, mut host) = open_session(1, 2);
    let mut buf = [0u8; MAX_WIRE];
    let first = seat
        .encode(&Message::Telemetry(telemetry()), &mut buf)
        .unwrap()
        .to_vec();
    host_accept(&mut host, &first).unwrap(); // opens the host's session, so it can send commands
    let mut frames = Vec::new();
    for (name, msg) in every_message() {
        let plain = encode_unauthenticated(SEAT, 3, &msg, &mut buf).unwrap().to_vec();
        let authenticated = match &msg {
            Message::Session(s) => host
                .respond_to_hello(&hello(), s.nonce, &mut buf)
                .unwrap()
                .to_vec(),
            m if m.kind().is_uplink() => seat.encode(m, &mut buf).unwrap().to_vec(),
            m => host.encode(m, &mut buf).unwrap().1.to_vec(),
        };
        frames.push((name, plain));
        frames.push((name, authenticated));
    }
    assert_eq!(frames.len(), 18, "every kind, with and without a MAC");
    for (name, wire) in frames {
        let body = cobs_body(&wire);
        let (covered, trailer) = body.split_at(body.len() - 2);
        let (trailer, expected) = (
            u16::from_le_bytes([trailer[0], trailer[1]]),
            crc16_ibm_sdlc(covered),
        );
        assert!(
            trailer == expected,
            "{name}: trailer {trailer:#06x}, CRC-16/IBM-SDLC {expected:#06x} of body {covered:02x?}"
        );
    }
}
