//! Unit tests of parsing and resolution, one file per section (`thresholds`, `hemicycle`,
//! `keys`, `daemon`, `sinks`); here the helpers they share and the tests of the whole: the
//! embedded default, the defaults, and errors that name their place.

mod daemon;
mod hemicycle;
mod keys;
mod sinks;
mod thresholds;

use std::time::Duration;

use super::*;
use crate::config::SeatSettings;

/// A valid inline seat key.
const KEY_A: &str = "00112233445566778899aabbccddeeff";

/// `text` parsed, which must succeed.
fn ok(text: &str) -> Config {
    match parse(text, "t.toml") {
        Ok(c) => c,
        Err(e) => panic!("expected a valid config, got:\n{e}"),
    }
}

/// The errors of `text`, which must fail, as printed.
fn errors(text: &str) -> Vec<String> {
    match parse(text, "t.toml") {
        Ok(_) => panic!("expected errors for:\n{text}"),
        Err(e) => e.errors.iter().map(|e| e.to_string()).collect(),
    }
}

/// Seat `id` of `settings`.
fn seat(settings: &Settings, id: u16) -> &SeatSettings {
    settings
        .seats
        .iter()
        .find(|s| s.place.id == id)
        .unwrap_or_else(|| panic!("seat {id} missing"))
}

/// An empty environment.
fn no_env(_: &str) -> Option<String> {
    None
}

/// The 16 bytes of a key written as hex.
fn hex_key(s: &str) -> [u8; 16] {
    let mut k = [0u8; 16];
    hex::decode_to_slice(s, &mut k).unwrap();
    k
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
fn the_embedded_default_spells_out_the_defaults() {
    let s = Config::embedded_default().resolve_with_env(no_env).unwrap();
    let tiers = crate::detect::tier::TierRules::default();
    assert_eq!(
        (tiers.warn.trip_c, tiers.critical.trip_c, tiers.emergency.trip_c),
        (
            defaults::DEFAULT_WARN_C,
            defaults::DEFAULT_CRITICAL_C,
            defaults::DEFAULT_EMERGENCY_C
        )
    );
    assert_eq!(
        (tiers.dwell_ms, tiers.clear_dwell_ms),
        (
            defaults::DEFAULT_DWELL.as_millis() as u64,
            defaults::DEFAULT_CLEAR_DWELL.as_millis() as u64
        )
    );
    for x in &s.seats {
        assert_eq!(
            (x.tiers, x.horizon_s, x.period_ms as i64),
            (
                tiers,
                defaults::DEFAULT_HORIZON.as_secs(),
                defaults::DEFAULT_PERIOD_MS
            ),
            "seat {}",
            x.place.id
        );
    }
    assert_eq!(s.http_bind, defaults::DEFAULT_HTTP_BIND);
    assert_eq!(s.raw_retention, defaults::DEFAULT_RAW_RETENTION);
    assert_eq!(s.rollup_retention, defaults::DEFAULT_ROLLUP_RETENTION);
    assert_eq!(s.flush_interval, defaults::DEFAULT_FLUSH_INTERVAL);
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
        (
            x.tiers.warn.trip_c,
            x.tiers.critical.trip_c,
            x.horizon_s,
            x.period_ms
        ),
        (DEFAULT_WARN_C, DEFAULT_CRITICAL_C, 300, 500)
    );
    // A file that names no tier key runs as one written before the tiers: clear a degree under
    // each level, emergency 10 °C over critical, trip after 5 s, clear after 30 s.
    let t = x.tiers;
    assert_eq!(
        (
            t.warn.clear_c,
            t.critical.clear_c,
            t.emergency.trip_c,
            t.emergency.clear_c
        ),
        (69.0, 84.0, 95.0, 94.0)
    );
    assert_eq!((t.dwell_ms, t.clear_dwell_ms), (5_000, 30_000));
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
            "t.toml:4:1: error: unknown key `temprature` in [thresholds]; expected one of warn_c, critical_c, emergency_c, warn_clear_c, critical_clear_c, emergency_clear_c, dwell, clear_dwell, horizon, telemetry_period_ms",
            "t.toml:7:1: error: unknown key `colour` in [daemon]; expected one of data_dir, http_bind, api_token, api_token_env, log_format",
            "t.toml:14:8: error: line `east` of seat 3 is not defined; defined lines: none",
            "t.toml:15:7: error: `key` in [[seat]]: a seat key is 32 hex digits (16 bytes); this one has 4 characters",
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
        "[daemon]\napi_token = \"tok-123456-5f1c0d2e9a8b7c6d5e4f\"\n[[seat]]\nid = 1\nsector = \"A\"\nrow = 1\nposition = 1\nkey = \"{KEY_A}\"\n"
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
