//! Known-answer test of the public demo keys: these are the bytes every demo config, capture and
//! unprovisioned board already uses (they were pinned from the firmware's and the simulator's
//! derivations before the two were merged into `hemiwatch_protocol::demo`). A change here breaks
//! every existing demo setup and the unprovisioned-board fallback.

use hemiwatch_protocol::demo::{demo_key, DEMO_MASTER};
use hemiwatch_protocol::SeatKey;

fn hex(k: &SeatKey) -> String {
    k.0.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn demo_keys_have_their_published_bytes() {
    let expected = [
        (1u16, "5745a49cf520e9733a42127c7d023087"),
        (2, "d9a302d56aa26787462aea91872d129b"),
        (100, "caca8ae401dd0f191f3317a9b3ae0591"),
        (577, "b9916e1c348af79ac6206f3c3d7fdd5f"),
        (65535, "aa526398ffe785799a0057d3c141a605"),
    ];
    for (seat, key) in expected {
        assert_eq!(hex(&demo_key(seat)), key, "seat {seat}");
    }
    assert_eq!(DEMO_MASTER.0, *b"hemiwatch-demo!!");
    assert_eq!(
        hemiwatch_protocol::demo_key(1),
        demo_key(1),
        "re-exported at the crate root"
    );
}
