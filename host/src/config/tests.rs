//! Unit tests of parsing and resolution: the embedded layout, threshold layering, key files,
//! the environment token, and errors that name their place.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use hemiwatch_protocol::SeatKey;

use super::*;
use crate::config::SeatSettings;

const KEY_A: &str = "00112233445566778899aabbccddeeff";

fn ok(text: &str) -> Config {
    match parse(text, "t.toml") {
        Ok(c) => c,
        Err(e) => panic!("expected a valid config, got:\n{e}"),
    }
}

fn errors(text: &str) -> Vec<String> {
    match parse(text, "t.toml") {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e.errors.iter().map(|e| e.to_string()).collect(),
    }
}

fn seat(settings: &Settings, id: u16) -> &SeatSettings {
    settings
        .seats
        .iter()
        .find(|s| s.place.id == id)
        .unwrap_or_else(|| panic!("seat {id} missing"))
}

fn no_env(_: &str) -> Option<String> {
    None
}

#[test]
fn embedded_default_is_valid() {
    let config = Config::embedded_default();
    assert!(config.uses_demo_keys());
    assert!(config.demo_keys_warning().is_some_and(|w| w.contains("PUBLIC")));
    let s = config.resolve_with_env(no_env).unwrap();
    assert_eq!(s.seats.len(), 577);
    assert_eq!(s.lines.len(), 8);
    assert!(s.sinks.is_empty());
    let ids: Vec<u16> = s.seats.iter().map(|s| s.place.id).collect();
    assert_eq!(ids, (1..=577).collect::<Vec<u16>>());
    assert_eq!(s.http_bind, DEFAULT_HTTP_BIND);
}

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
        assert_eq!(seat.key, Some(crate::sim::demo_key(p.id)), "seat {}", p.id);
        assert_eq!(
            (seat.warn_c, seat.critical_c, seat.horizon_s, seat.period_ms),
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
fn defaults_apply_when_nothing_is_said() {
    let s = ok(&format!(
        "[[seat]]\nid = 9\nsector = \"A\"\nrow = 2\nposition = 3\nkey = \"{KEY_A}\"\n"
    ))
    .resolve_with_env(no_env)
    .unwrap();
    let x = seat(&s, 9);
    assert_eq!(
        (x.warn_c, x.critical_c, x.horizon_s, x.period_ms),
        (DEFAULT_WARN_C, DEFAULT_CRITICAL_C, 300, 500)
    );
    assert_eq!(x.place.label, "A-02-03");
    assert_eq!(x.place.line, None);
    assert_eq!(s.http_bind.to_string(), "127.0.0.1:7577");
    assert_eq!(s.api_token, None);
    assert_eq!(s.database, std::path::Path::new("./hemiwatch.sqlite"));
    assert_eq!(s.raw_retention, Duration::from_secs(24 * 3600));
    assert_eq!(s.rollup_retention, Duration::from_secs(90 * 24 * 3600));
    assert_eq!(s.flush_interval, Duration::from_secs(1));
}

#[test]
fn storage_paths_follow_data_dir_and_the_demo_override() {
    let text =
        "[daemon]\ndata_dir = \"var\"\n[storage]\nraw_retention = \"2h\"\nflush_interval = \"250ms\"\n";
    let mut c = parse(text, "/etc/hemiwatch/hemiwatch.toml").unwrap();
    let s = c.resolve_with_env(no_env).unwrap();
    assert_eq!(
        s.database,
        std::path::Path::new("/etc/hemiwatch/var/hemiwatch.sqlite")
    );
    assert_eq!(s.raw_retention, Duration::from_secs(7200));
    assert_eq!(s.flush_interval, Duration::from_millis(250));
    c.set_data_dir("/tmp/demo-x");
    assert_eq!(c.data_dir(), std::path::Path::new("/tmp/demo-x"));
    let s = c.resolve_with_env(no_env).unwrap();
    assert_eq!(s.database, std::path::Path::new("/tmp/demo-x/hemiwatch.sqlite"));
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
    assert_eq!(speaker.warn_c, 40.0, "the seat's own threshold wins");
    assert_eq!(speaker.key, Some(SeatKey(hex_key(KEY_A))));
    assert_eq!(
        seat(&s, 13).warn_c,
        50.0,
        "generated seats get their board's thresholds"
    );
    assert_eq!(seat(&s, 15).place.label, "R-01-01");
    assert_eq!(seat(&s, 15).place.line.as_deref(), Some("r"));
    // A seat added without a key takes the hemicycle's key policy.
    assert_eq!(seat(&s, 100).key, Some(crate::sim::demo_key(100)));
    assert_eq!(
        seat(&s, 100).warn_c,
        70.0,
        "no board on an added seat: global defaults"
    );
}

fn hex_key(s: &str) -> [u8; 16] {
    let mut k = [0u8; 16];
    hex::decode_to_slice(s, &mut k).unwrap();
    k
}

#[test]
fn key_files_are_relative_to_the_config_folder() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("etc");
    std::fs::create_dir_all(conf.join("keys")).unwrap();
    std::fs::write(
        conf.join("keys/seat-0007.key"),
        "0f0e0d0c0b0a09080706050403020100\n",
    )
    .unwrap();
    let raw: [u8; 16] = *b"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f";
    std::fs::write(conf.join("keys/raw.bin"), raw).unwrap();
    std::fs::write(conf.join("keys/short.key"), "0f0e").unwrap();
    let path = conf.join("hemiwatch.toml");
    let text = "[[seat]]\nid = 7\nsector = \"A\"\nrow = 1\nposition = 1\nkey_file = \"keys/seat-0007.key\"\n\
                [[seat]]\nid = 8\nsector = \"A\"\nrow = 1\nposition = 2\nkey_file = \"keys/raw.bin\"\n";
    std::fs::write(&path, text).unwrap();
    // Resolved from another working directory: only the config's folder matters.
    let s = load(&path).unwrap().resolve_with_env(no_env).unwrap();
    assert_eq!(
        seat(&s, 7).key,
        Some(SeatKey(hex_key("0f0e0d0c0b0a09080706050403020100")))
    );
    assert_eq!(seat(&s, 8).key, Some(SeatKey(raw)));

    std::fs::write(
        &path,
        text.replace("raw.bin", "short.key")
            .replace("seat-0007", "absent"),
    )
    .unwrap();
    let e = load(&path).unwrap().resolve_with_env(no_env).unwrap_err();
    let msgs: Vec<String> = e.errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    assert!(
        msgs[0].contains(":6:12: error: key_file keys/absent.key for seat 7 does not exist"),
        "{}",
        msgs[0]
    );
    assert!(
        msgs[1].contains(":12:12: error: key_file keys/short.key for seat 8: holds 4 bytes"),
        "{}",
        msgs[1]
    );
}

#[test]
fn key_dir_gives_one_file_per_seat_and_lists_the_missing_ones() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("keys")).unwrap();
    for id in [1u16, 2, 4] {
        std::fs::write(
            dir.path().join("keys").join(key_file_name(id)),
            format!("{:032x}", id),
        )
        .unwrap();
    }
    let path = dir.path().join("h.toml");
    std::fs::write(
        &path,
        "[hemicycle]\nsectors = [\"A\"]\nrow_seats = [2, 2]\nkey_dir = \"keys\"\n",
    )
    .unwrap();
    let e = load(&path).unwrap().resolve_with_env(no_env).unwrap_err();
    assert_eq!(e.len(), 1);
    assert!(
        e.errors[0]
            .to_string()
            .contains(":4:11: error: key_dir has no key file for 1 seat(s): 3"),
        "{e}"
    );
    std::fs::write(
        dir.path().join("keys").join("seat-0003.key"),
        format!("{:032x}", 3),
    )
    .unwrap();
    let s = load(&path).unwrap().resolve_with_env(no_env).unwrap();
    let mut k = [0u8; 16];
    k[15] = 3;
    assert_eq!(seat(&s, 3).key, Some(SeatKey(k)));
}

#[test]
fn the_api_token_comes_from_the_named_environment_variable() {
    let c = ok("[daemon]\napi_token_env = \"HW_TOKEN\"\n");
    let s = c
        .resolve_with_env(|n| (n == "HW_TOKEN").then(|| "s3cret".to_string()))
        .unwrap();
    assert_eq!(s.api_token.as_deref(), Some("s3cret"));
    let e = c.resolve_with_env(no_env).unwrap_err();
    assert_eq!(
        e.to_string(),
        "t.toml:2:17: error: api_token_env names HW_TOKEN, but that environment variable is not set"
    );
    let inline = ok("[daemon]\napi_token = \"abc\"\n")
        .resolve_with_env(no_env)
        .unwrap();
    assert_eq!(inline.api_token.as_deref(), Some("abc"));
    assert!(errors("[daemon]\napi_token = \"abc\"\napi_token_env = \"X\"\n")[0].contains("not both"));
}

#[test]
fn every_error_is_reported_in_file_order() {
    let e = errors(
        r#"[thresholds]
warn_c = 90
critical_c = 85
temprature = 1

[daemon]
colour = "blue"

[[seat]]
id = 3
sector = "A"
row = 1
position = 1
line = "east"
key = "0011"
"#,
    );
    assert_eq!(
        e,
        [
            "t.toml:2:10: error: warn_c 90 must be below critical_c 85",
            "t.toml:4:1: error: unknown key `temprature` in [thresholds]; expected one of warn_c, critical_c, horizon, telemetry_period_ms",
            "t.toml:7:1: error: unknown key `colour` in [daemon]; expected one of data_dir, http_bind, api_token, api_token_env, log_format",
            "t.toml:14:8: error: line `east` of seat 3 is not defined; defined lines: none",
            "t.toml:15:7: error: `key` in [[seat]]: a seat key is 32 hex digits (16 bytes); this one has 4 characters",
        ]
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

#[test]
fn meaning_errors_point_at_the_offending_value() {
    let e = errors(&format!(
        r#"[[line]]
name = "a"
path = "/dev/ttyUSB0"

[[line]]
name = "a"
path = "tcp:host:http"

[[seat]]
id = 1
sector = "A"
row = 1
position = 1
key = "{KEY_A}"

[[seat]]
id = 2
sector = "A"
row = 1
position = 1
key = "{KEY_A}"

[[seat]]
id = 1
sector = "B"
row = 1
position = 1

[[seat]]
id = 3
sector = "B"
"#
    ));
    assert_eq!(
        e,
        [
            "t.toml:6:8: error: line `a` is defined twice (first at t.toml:2:8)",
            "t.toml:20:12: error: seat 2 is placed at sector A, row 1, position 1, where seat 1 already sits",
            "t.toml:24:6: error: seat 1 is defined twice (first at t.toml:10:6)",
            "t.toml:30:6: error: seat 3 needs row, position (it is not generated by [hemicycle])",
            "t.toml:30:6: error: seat 3 has no key: add key = \"<32 hex digits>\" or key_file = \"keys/seat-0003.key\"",
        ]
    );
}

#[test]
fn a_bad_value_is_reported_once_not_again_as_missing() {
    // The bad `key` is reported; "seat 3 has no key" would only repeat it.
    let e = errors("[[seat]]\nid = 3\nsector = \"A\"\nrow = 1\nposition = 1\nkey = 42\n");
    assert_eq!(
        e,
        ["t.toml:6:7: error: `key` in [[seat]] has the wrong type: found integer `42`, expected a string of 32 hex digits"]
    );
    // A broken [[line]] does not make its seats' line "undefined".
    let e = errors(&format!(
        "[[line]]\nname = \"a\"\npath = 5\n[[seat]]\nid = 3\nsector = \"A\"\nrow = 1\nposition = 1\nline = \"a\"\nkey = \"{KEY_A}\"\n"
    ));
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("t.toml:3:8: error: `path` in [[line]] has the wrong type"),
        "{e:?}"
    );
}

#[test]
fn sinks_are_built_and_checked() {
    let s = ok(r#"
[[sink]]
kind = "alertmanager"
url = "http://127.0.0.1:9093/"
[[sink]]
kind = "webhook"
url = "https://example.org/h"
timeout = "2s"
[[sink]]
kind = "exec"
command = "/bin/true"
"#)
    .resolve_with_env(no_env)
    .unwrap();
    let names: Vec<&str> = s.sinks.iter().map(|s| s.name()).collect();
    assert_eq!(names, ["alertmanager", "webhook", "exec"]);
    let e = errors(
        r#"[[sink]]
kind = "webhook"
url = "ftp://example.org/"
[[sink]]
kind = "exec"
command = "/bin/echo"
args = ["x"]
url = "http://x/"
[[sink]]
kind = "alertmanager"
"#,
    );
    assert_eq!(
        e,
        [
            "t.toml:3:7: error: url of a webhook sink must be http:// or https://, not ftp://",
            "t.toml:7:8: error: the exec sink does not pass arguments yet: point command at a script that adds them",
            "t.toml:8:7: error: `url` does not apply to an exec sink",
            "t.toml:10:8: error: an alertmanager sink needs url = \"http://...\"",
        ]
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

#[test]
fn syntax_errors_have_positions_and_stop_there() {
    let e = errors("[thresholds]\nwarn_c = 70\ncritical_c = \n[[seat]\n");
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(e[0].starts_with("t.toml:3:14: error: TOML syntax error"), "{e:?}");
    assert!(e[1].starts_with("t.toml:4:8: error: TOML syntax error"), "{e:?}");
}

#[test]
fn an_unreadable_file_is_not_an_invalid_one() {
    let e = load(std::path::Path::new("/nonexistent/hemiwatch.toml")).unwrap_err();
    assert!(e.unreadable);
    assert_eq!(
        e.to_string(),
        "/nonexistent/hemiwatch.toml: error: cannot read the configuration file: No such file or directory (os error 2)"
    );
}

#[test]
fn debug_output_holds_no_secret() {
    let c = ok(&format!(
        "[daemon]\napi_token = \"tok-123456\"\n[[seat]]\nid = 1\nsector = \"A\"\nrow = 1\nposition = 1\nkey = \"{KEY_A}\"\n"
    ));
    let shown = format!("{c:?}");
    assert!(shown.contains("t.toml"), "{shown}");
    assert!(!shown.contains("tok-123456") && !shown.contains(KEY_A), "{shown}");
}

#[test]
fn load_resolved_reports_text_and_file_errors_together() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.toml");
    std::fs::write(
        &path,
        "[thresholds]\nwarn_c = 99\n[[seat]]\nid = 1\nsector = \"A\"\nrow = 1\nposition = 1\nkey_file = \"nope.key\"\n",
    )
    .unwrap();
    let e = load_resolved(&path).unwrap_err();
    let msgs: Vec<String> = e.errors.iter().map(|e| e.message.clone()).collect();
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    assert_eq!(msgs[0], "warn_c 99 must be below critical_c 85");
    assert!(
        msgs[1].starts_with("key_file nope.key for seat 1 does not exist"),
        "{msgs:?}"
    );
    // `load` alone stops at the text: the key file is not looked at.
    assert_eq!(load(&path).unwrap_err().len(), 1);
}

#[test]
fn the_summary_counts_in_words() {
    let s = Summary {
        origin: "h.toml".into(),
        lines: 1,
        seats: 577,
        sinks: 0,
        warnings: vec![],
    };
    assert_eq!(s.to_string(), "h.toml: valid: 1 line, 577 seats, 0 sinks");
}
