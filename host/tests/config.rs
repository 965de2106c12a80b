//! `hemiwatch check-config` as a technician runs it: the real binary on real files. Each bad
//! file must exit 2 and name the place (`file:line:column`) and the problem in words; the
//! example at the repository root and the embedded default must be valid.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn configs() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/configs")
}

/// Runs `hemiwatch check-config ARGS` in `dir` with a clean token variable (unless `env` sets it).
fn check_config(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hemiwatch"));
    cmd.arg("check-config")
        .args(args)
        .current_dir(dir)
        .env_remove("HEMIWATCH_API_TOKEN")
        .env("HEMIWATCH_LOG", "error");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run hemiwatch")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Asserts that `file` (under tests/configs) is invalid: exit 2, and each expected error line
/// starts with `file:line:col: error:` and contains the words.
fn assert_invalid(file: &str, expected: &[(&str, &[&str])]) {
    let out = check_config(&configs(), &[file], &[]);
    let stderr = text(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{file}: exit status; stderr:\n{stderr}"
    );
    assert!(out.stdout.is_empty(), "{file}: nothing on stdout when invalid");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains(": error: ")).collect();
    assert_eq!(
        errors.len(),
        expected.len(),
        "{file}: error count; stderr:\n{stderr}"
    );
    for (line, (at, words)) in errors.iter().zip(expected) {
        let prefix = format!("{file}:{at}: error: ");
        assert!(
            line.starts_with(&prefix),
            "{file}: expected {prefix:?}, got {line:?}"
        );
        for w in *words {
            assert!(line.contains(w), "{file}: {line:?} should mention {w:?}");
        }
    }
    assert!(
        stderr.contains(&format!("{} error", expected.len())),
        "{file}: a closing count; stderr:\n{stderr}"
    );
}

#[test]
fn syntax_error() {
    assert_invalid("bad/syntax.toml", &[("6:13", &["TOML syntax error"])]);
}

#[test]
fn wrong_type() {
    assert_invalid(
        "bad/wrong-type.toml",
        &[(
            "8:7",
            &["`row`", "[[seat]]", "wrong type", "\"three\"", "integer"],
        )],
    );
}

#[test]
fn unknown_key() {
    assert_invalid(
        "bad/unknown-key.toml",
        &[(
            "3:1",
            &[
                "unknown key `temprature` in [thresholds]",
                "expected one of warn_c, critical_c",
            ],
        )],
    );
}

#[test]
fn duplicate_seat_id() {
    assert_invalid(
        "bad/duplicate-seat.toml",
        &[(
            "14:6",
            &["seat 42 is defined twice (first at bad/duplicate-seat.toml:6:6)"],
        )],
    );
}

#[test]
fn missing_key_file() {
    assert_invalid(
        "bad/missing-key-file.toml",
        &[("11:12", &["key_file keys/seat-7.key for seat 7 does not exist"])],
    );
}

#[test]
fn undefined_line() {
    assert_invalid(
        "bad/undefined-line.toml",
        &[(
            "10:8",
            &["line `east` of seat 12 is not defined", "defined lines: west"],
        )],
    );
}

#[test]
fn warn_not_below_critical() {
    assert_invalid(
        "bad/warn-above-critical.toml",
        &[("2:10", &["warn_c 90 must be below critical_c 85"])],
    );
}

#[test]
fn tier_levels_out_of_order_name_the_layer_that_broke_them() {
    assert_invalid(
        "bad/tier-order.toml",
        &[
            (
                "5:14",
                &["critical_clear_c 83 must be below critical_c 82 in [board.blackpill_f411]"],
            ),
            (
                "13:15",
                &["critical_c 85 must be below emergency_c 84 for seat 4"],
            ),
            ("14:9", &["dwell 1m 30s for seat 4 must be at most 1m"]),
        ],
    );
}

#[test]
fn seat_id_out_of_range() {
    assert_invalid(
        "bad/id-out-of-range.toml",
        &[("2:6", &["seat id 1024 is out of range", "1 to 1023"])],
    );
}

#[test]
fn two_seats_in_one_place() {
    assert_invalid(
        "bad/same-place.toml",
        &[(
            "12:12",
            &["seat 2", "sector B, row 4, position 12", "seat 1 already sits"],
        )],
    );
}

#[test]
fn all_errors_of_a_file_in_one_run() {
    assert_invalid(
        "bad/many-errors.toml",
        &[
            ("3:13", &["\"localhost:7577\" is not an IP:PORT address"]),
            ("7:1", &["unknown key `critical` in [thresholds]"]),
            (
                "10:10",
                &["warn_c 80 must be below critical_c 75 in [board.blackpill_f411]"],
            ),
            ("15:8", &["\"tcp:concentrator\" of line `left`"]),
            ("18:6", &["seat id 0 is out of range"]),
            ("29:8", &["line `right` of seat 5 is not defined"]),
            ("30:12", &["key_file keys/absent.key for seat 5 does not exist"]),
            ("33:8", &["a webhook sink needs url"]),
        ],
    );
}

#[test]
fn a_valid_file_prints_a_summary_and_exits_0() {
    let out = check_config(&configs(), &["good/small.toml"], &[]);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "good/small.toml: valid: 2 lines, 2 seats, 3 sinks\n"
    );
}

#[test]
fn the_example_at_the_repository_root_is_valid() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = check_config(
        &root,
        &["hemiwatch.example.toml"],
        &[("HEMIWATCH_API_TOKEN", "5f1c0d2e9a8b7c6d5e4f3a2b1c0d9e8f")],
    );
    assert_eq!(out.status.code(), Some(0), "stderr:\n{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "hemiwatch.example.toml: valid: 3 lines, 4 seats, 3 sinks\n"
    );
    // Its token comes from the environment, as `run` would read it: unset, the file is invalid.
    let out = check_config(&root, &["hemiwatch.example.toml"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr)
            .contains("api_token_env names HEMIWATCH_API_TOKEN, but that environment variable is not set"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn the_embedded_default_is_valid_with_577_seats_and_warns_about_demo_keys() {
    let out = check_config(&configs(), &[], &[]);
    assert_eq!(out.status.code(), Some(0), "stderr:\n{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "<embedded default>: valid: 8 lines, 577 seats, 0 sinks\n"
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("warning: keys = \"demo\"") && stderr.contains("PUBLIC"),
        "{stderr}"
    );
}

#[test]
fn an_unreadable_file_exits_1() {
    let out = check_config(&configs(), &["no-such-file.toml"], &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).starts_with("no-such-file.toml: error: cannot read the configuration file"));
}

#[test]
fn help_documents_the_exit_statuses() {
    let out = Command::new(env!("CARGO_BIN_EXE_hemiwatch"))
        .args(["check-config", "--help"])
        .output()
        .unwrap();
    let help = text(&out.stdout);
    assert!(
        help.contains("0 = valid, 2 = invalid") && help.contains("1 = the file cannot be read"),
        "{help}"
    );
}
