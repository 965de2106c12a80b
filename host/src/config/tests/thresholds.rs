//! Thresholds: layering `[thresholds]` → `[board.<kind>]` → `[[seat]]`, range checks at the
//! layer that sets a value, and the order of the tiers' levels checked where it breaks.

use super::*;

#[test]
fn thresholds_layer_global_then_board_then_seat() {
    let s = ok(&format!(
        r#"
[thresholds]
warn_c = 60
critical_c = 80
horizon = "4m"
telemetry_period_ms = 400

[board.blackpill_f411]
critical_c = 90
horizon = "2m"

[board.simulated]
telemetry_period_ms = 1000

[[seat]]
id = 1
sector = "A"
row = 1
position = 1
board = "blackpill_f411"
key = "{KEY_A}"
warn_c = 75

[[seat]]
id = 2
sector = "A"
row = 1
position = 2
board = "blackpill_f411"
key = "{KEY_A}"

[[seat]]
id = 3
sector = "A"
row = 1
position = 3
key = "{KEY_A}"

[[seat]]
id = 4
sector = "A"
row = 1
position = 4
board = "qemu_lm3s6965"
key = "{KEY_A}"
critical_c = 95
"#
    ))
    .resolve_with_env(no_env)
    .unwrap();
    let t = |id| {
        let x = seat(&s, id);
        (
            x.tiers.warn.trip_c,
            x.tiers.critical.trip_c,
            x.horizon_s,
            x.period_ms,
        )
    };
    assert_eq!(t(1), (75.0, 90.0, 120, 400), "seat over board over global");
    assert_eq!(t(2), (60.0, 90.0, 120, 400), "board over global");
    assert_eq!(t(3), (60.0, 80.0, 240, 400), "no board: global");
    assert_eq!(
        t(4),
        (60.0, 95.0, 240, 400),
        "a board without a table: global, then the seat"
    );
}

#[test]
fn thresholds_are_checked_where_they_are_set() {
    let e = errors(&format!(
        r#"[board.simulated]
critical_c = 60

[[seat]]
id = 1
sector = "A"
row = 1
position = 1
key = "{KEY_A}"
critical_c = 200
horizon = "2h"
telemetry_period_ms = 20
"#
    ));
    assert_eq!(
        e,
        [
            "t.toml:2:14: error: warn_c 70 must be below critical_c 60 in [board.simulated]",
            "t.toml:10:14: error: critical_c 200 for seat 1 is outside what the TMP105 sensor measures (-55 to 125 °C)",
            "t.toml:11:11: error: horizon 2h for seat 1 must be between 1s and 1h",
            "t.toml:12:23: error: telemetry_period_ms 20 for seat 1 must be between 100 and 60000",
        ]
    );
}

/// A seat `id` at position `id` of row 1, with `extra` lines (its own keys).
fn seat_entry(id: u16, extra: &str) -> String {
    format!("[[seat]]\nid = {id}\nsector = \"A\"\nrow = 1\nposition = {id}\nkey = \"{KEY_A}\"\n{extra}\n")
}

#[test]
fn tier_levels_and_dwells_layer_and_derived_ones_follow_the_level_in_force() {
    let s = ok(&format!(
        r#"
[thresholds]
warn_c = 65
warn_clear_c = 60
emergency_c = 100
dwell = "2s"
clear_dwell = "1m"

[board.blackpill_f411]
critical_c = 80
critical_clear_c = 75
emergency_clear_c = 90

{}{}{}"#,
        seat_entry(
            1,
            "board = \"blackpill_f411\"\nemergency_c = 98\ndwell = \"500ms\""
        ),
        seat_entry(2, "critical_c = 90"),
        seat_entry(3, "warn_c = 62"),
    ))
    .resolve_with_env(no_env)
    .unwrap();
    let t = |id| seat(&s, id).tiers;
    let levels = |id| {
        let t = t(id);
        [
            (t.warn.trip_c, t.warn.clear_c),
            (t.critical.trip_c, t.critical.clear_c),
            (t.emergency.trip_c, t.emergency.clear_c),
        ]
    };
    // Seat 1: global warn, board critical and emergency clear, its own emergency and dwell.
    assert_eq!(levels(1), [(65.0, 60.0), (80.0, 75.0), (98.0, 90.0)]);
    assert_eq!((t(1).dwell_ms, t(1).clear_dwell_ms), (500, 60_000));
    // Seat 2: no board; its critical moves the derived critical clear, not the global emergency.
    assert_eq!(levels(2), [(65.0, 60.0), (90.0, 89.0), (100.0, 99.0)]);
    assert_eq!((t(2).dwell_ms, t(2).clear_dwell_ms), (2_000, 60_000));
    // Seat 3: a clear level is absolute: the global 60 °C stays when the seat moves warn.
    assert_eq!(levels(3)[0], (62.0, 60.0));

    // Nothing said about emergency: critical + 10 °C, at most the sensor's 125 °C.
    let s = ok(&format!(
        "[thresholds]\ncritical_c = 120\n{}{}",
        seat_entry(1, ""),
        seat_entry(2, "critical_c = 90")
    ))
    .resolve_with_env(no_env)
    .unwrap();
    assert_eq!(seat(&s, 1).tiers.emergency.trip_c, 125.0);
    assert_eq!(seat(&s, 2).tiers.emergency.trip_c, 100.0);
}

#[test]
fn tier_order_is_checked_at_the_layer_that_breaks_it() {
    let e = errors(&format!(
        r#"[thresholds]
warn_clear_c = 68
critical_c = 90
emergency_c = 88

[board.simulated]
warn_c = 67
dwell = "2m"

{}{}{}"#,
        seat_entry(1, "critical_clear_c = 92"),
        seat_entry(2, "emergency_c = 130\nclear_dwell = \"2h\""),
        seat_entry(3, "critical_c = 125\nemergency_clear_c = 96"),
    ));
    assert_eq!(
        e,
        [
            "t.toml:3:14: error: critical_c 90 must be below emergency_c 88",
            "t.toml:7:10: error: warn_clear_c 68 must be below warn_c 67 in [board.simulated]: a tier clears under the level it trips at",
            "t.toml:8:9: error: dwell 2m in [board.simulated] must be at most 1m",
            "t.toml:16:20: error: critical_clear_c 92 must be below critical_c 90 for seat 1: a tier clears under the level it trips at",
            "t.toml:23:15: error: emergency_c 130 for seat 2 is outside what the TMP105 sensor measures (-55 to 125 °C)",
            "t.toml:24:15: error: clear_dwell 2h for seat 2 must be at most 1h",
            "t.toml:31:14: error: critical_c 125 must be below emergency_c 88 for seat 3",
            "t.toml:32:21: error: emergency_clear_c 96 must be below emergency_c 88 for seat 3: a tier clears under the level it trips at",
        ]
    );
    // Emergency left out everywhere: the message says where its value came from.
    let e = errors(&seat_entry(1, "critical_c = 125"));
    assert_eq!(
        e,
        ["t.toml:7:14: error: critical_c 125 must be below emergency_c 125 for seat 1 (left out, emergency_c is critical_c + 10 °C, at most 125 °C)"]
    );
}
