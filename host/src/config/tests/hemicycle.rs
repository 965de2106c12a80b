//! `[hemicycle]`: the embedded layout's geometry, explicit seats over generated ones, and
//! mistakes reported without cascades.

use std::collections::{BTreeMap, BTreeSet};

use hemiwatch_protocol::SeatKey;

use super::*;

#[test]
fn embedded_layout_is_eight_wedges_of_twelve_rows() {
    let s = Config::embedded_default().resolve_with_env(no_env).unwrap();
    // Seats per sector = seats per line (one concentrator per sector).
    let mut per_sector: BTreeMap<String, usize> = BTreeMap::new();
    let mut per_row: BTreeMap<u16, usize> = BTreeMap::new();
    let mut places = BTreeSet::new();
    for seat in &s.seats {
        let p = &seat.place;
        *per_sector.entry(p.sector.clone()).or_default() += 1;
        *per_row.entry(p.row).or_default() += 1;
        assert_eq!(
            p.line.as_deref(),
            Some(format!("sector-{}", p.sector.to_lowercase()).as_str())
        );
        assert!(
            places.insert((p.row, p.position)),
            "two seats at row {} position {}",
            p.row,
            p.position
        );
        assert_eq!(
            seat.key,
            Some(hemiwatch_protocol::demo_key(p.id)),
            "seat {}",
            p.id
        );
        assert_eq!(
            (
                seat.tiers.warn.trip_c,
                seat.tiers.critical.trip_c,
                seat.horizon_s,
                seat.period_ms
            ),
            (70.0, 85.0, 300, 500)
        );
        assert!(
            p.label.starts_with(&format!("{}-{:02}-", p.sector, p.row)),
            "{}",
            p.label
        );
    }
    let counts: Vec<usize> = per_sector.values().copied().collect();
    assert_eq!(per_sector.keys().cloned().collect::<String>(), "ABCDEFGH");
    assert_eq!(counts, [71, 72, 72, 71, 74, 71, 73, 73]);
    let rows: Vec<usize> = per_row.values().copied().collect();
    assert_eq!(rows, [32, 35, 38, 41, 44, 47, 50, 53, 56, 59, 60, 62]);
    // Positions run 1..=n along each whole row.
    for (row, n) in &per_row {
        let max = s
            .seats
            .iter()
            .filter(|x| x.place.row == *row)
            .map(|x| x.place.position)
            .max();
        assert_eq!(max, Some(*n as u16));
    }
    // Ids run sector by sector: A is 1..=71, the innermost-left seat first.
    let first = seat(&s, 1);
    assert_eq!(
        (first.place.sector.as_str(), first.place.row, first.place.position),
        ("A", 1, 1)
    );
    assert_eq!(first.place.label, "A-01-01");
    assert_eq!(seat(&s, 71).place.sector, "A");
    assert_eq!(seat(&s, 72).place.sector, "B");
    assert_eq!(seat(&s, 577).place.sector, "H");
    // The rightmost seat of the outermost row is the last one.
    assert_eq!((seat(&s, 577).place.row, seat(&s, 577).place.position), (12, 62));
}

#[test]
fn hemicycle_seats_are_overridden_and_extended_by_explicit_seats() {
    let s = ok(&format!(
        r#"
[[line]]
name = "l"
path = "/dev/ttyUSB0"

[[line]]
name = "r"
path = "/dev/ttyUSB1"

[hemicycle]
sectors = ["L", "R"]
row_seats = [4, 6]
first_id = 10
board = "simulated"
lines = {{ L = "l", R = "r" }}
keys = "demo"

[board.simulated]
warn_c = 50

[[seat]]
id = 12
label = "speaker"
warn_c = 40
key = "{KEY_A}"

[[seat]]
id = 100
sector = "R"
row = 3
position = 1
line = "r"
"#
    ))
    .resolve_with_env(no_env)
    .unwrap();
    assert_eq!(s.seats.len(), 11);
    // Generated: row 1 has 4 seats (2 per sector), row 2 has 6 (3 per sector); L first.
    let ids: Vec<(u16, &str, u16, u16)> = s
        .seats
        .iter()
        .map(|x| (x.place.id, x.place.sector.as_str(), x.place.row, x.place.position))
        .collect();
    assert_eq!(
        ids,
        [
            (10, "L", 1, 1),
            (11, "L", 1, 2),
            (12, "L", 2, 1),
            (13, "L", 2, 2),
            (14, "L", 2, 3),
            (15, "R", 1, 3),
            (16, "R", 1, 4),
            (17, "R", 2, 4),
            (18, "R", 2, 5),
            (19, "R", 2, 6),
            (100, "R", 3, 1),
        ]
    );
    let speaker = seat(&s, 12);
    assert_eq!(speaker.place.label, "speaker");
    assert_eq!(
        speaker.place.line.as_deref(),
        Some("l"),
        "placement kept from the generator"
    );
    assert_eq!(speaker.tiers.warn.trip_c, 40.0, "the seat's own threshold wins");
    assert_eq!(speaker.key, Some(SeatKey(hex_key(KEY_A))));
    assert_eq!(
        seat(&s, 13).tiers.warn.trip_c,
        50.0,
        "generated seats get their board's thresholds"
    );
    assert_eq!(seat(&s, 15).place.label, "R-01-01");
    assert_eq!(seat(&s, 15).place.line.as_deref(), Some("r"));
    // A seat added without a key takes the hemicycle's key policy.
    assert_eq!(seat(&s, 100).key, Some(hemiwatch_protocol::demo_key(100)));
    assert_eq!(
        seat(&s, 100).tiers.warn.trip_c,
        70.0,
        "no board on an added seat: global defaults"
    );
}

#[test]
fn hemicycle_mistakes_are_reported_without_cascades() {
    let e = errors(
        r#"[[line]]
name = "l"
path = "/dev/ttyUSB0"

[hemicycle]
sectors = ["A", "B", "A"]
row_seats = [600, 500]
lines = { A = "l", C = "x" }

[[seat]]
id = 3
warn_c = 50
"#,
    );
    assert_eq!(
        e,
        [
            "t.toml:5:1: error: [hemicycle] needs keys: key_dir = \"keys/\" (one file seat-0042.key per seat) or, for demos only, keys = \"demo\"",
            "t.toml:6:22: error: sector `A` is listed twice (first at t.toml:6:12)",
            "t.toml:7:13: error: the hemicycle has 1100 seats from id 1, up to id 1100: seat ids end at 1023 (the protocol's 2-byte address)",
            "t.toml:8:9: error: [hemicycle] lines gives no line to sector B",
            "t.toml:8:20: error: sector `C` in [hemicycle] lines is not one of the sectors (A, B, A)",
            "t.toml:8:24: error: line `x` of sector C is not defined; defined lines: l",
        ]
    );
}
