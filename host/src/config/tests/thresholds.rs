//! Thresholds: layering `[thresholds]` → `[board.<kind>]` → `[[seat]]`, and range checks at
//! the layer that sets a value.

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
        (x.warn_c, x.critical_c, x.horizon_s, x.period_ms)
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
