//! The config fuzzer in CI (issue 12, item 13): every input it ever caught, and a handful of
//! nasty hand-made ones, stay refused with an error that names the problem; and the driver's
//! core (`hemiwatch::testkit::config_fuzz`, which `host/examples/fuzz_config.rs` runs for
//! millions of inputs) runs here on a short seeded batch, so it never rots.
//!
//! A new file in `tests/fuzz_regressions/config/` (the example saves its findings there) fails
//! [`every_kept_input_is_refused_with_a_clear_error`] until its expected error is written in
//! [`EXPECTED`]: what a finding *should* produce is a decision, not something to record blindly.

use std::path::{Path, PathBuf};

use hemiwatch::testkit::config_fuzz::{self, Fuzzer, NoProbe, Options, DEFAULT_SEED};

/// What reading a kept input must give.
enum Expect {
    /// Refused (exit 2), with an error whose text contains this.
    Refused(&'static str),
    /// Refused as unreadable (exit 1), with an error whose text contains this.
    Unreadable(&'static str),
}

/// Every file of `tests/fuzz_regressions/config/` and what it must give.
const EXPECTED: &[(&str, Expect)] = &[
    // Found by the fuzzer: read without end before key files were bounded.
    (
        "key-file-dev-zero.toml",
        Expect::Refused("key_file /dev/zero for seat 7: is not a regular file"),
    ),
    // Hand-made: the parser's nesting limit (80) plus one.
    (
        "nesting-81-deep.toml",
        Expect::Refused("TOML syntax error: cannot recurse further; max recursion depth met"),
    ),
    // Hand-made: the longest string the mutations write, where a length is checked.
    (
        "long-sink-name.toml",
        Expect::Refused("must be 1 to 64 letters, digits, '_', '-' or '.'"),
    ),
    // Hand-made: a raw NUL byte inside a string.
    ("nul-byte.toml", Expect::Refused("TOML syntax error")),
    // Hand-made: an escaped NUL where an environment variable name goes.
    (
        "nul-escape-in-token-env.toml",
        Expect::Refused("is not an environment variable name"),
    ),
    // Hand-made: the most seats two rows can hold.
    (
        "huge-hemicycle.toml",
        Expect::Refused("the hemicycle has 131070 seats from id 1"),
    ),
    // Hand-made: a duration one second past u64::MAX seconds.
    (
        "duration-overflow.toml",
        Expect::Refused("\"18446744073709551616s\" is not a duration"),
    ),
    // Hand-made: NaN, which compares false with everything.
    (
        "nan-threshold.toml",
        Expect::Refused("warn_c NaN is outside what the TMP105 sensor measures"),
    ),
    // Hand-made: a Latin-1 byte, not UTF-8.
    ("not-utf8.toml", Expect::Unreadable("valid UTF-8")),
];

/// The kept inputs, sorted.
fn kept_inputs() -> Vec<PathBuf> {
    let dir = config_fuzz::regressions_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .unwrap();
    files.sort();
    files
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn every_kept_input_is_refused_with_a_clear_error() {
    let fuzzer = Fuzzer::new(DEFAULT_SEED).unwrap();
    let files = kept_inputs();
    for path in &files {
        let name = file_name(path);
        let Some((_, expect)) = EXPECTED.iter().find(|(n, _)| *n == name) else {
            panic!("{name}: a kept fuzz input without an expected result: add it to EXPECTED");
        };
        let bytes = std::fs::read(path).unwrap();
        // No panic, no disagreement between the readers, every error placed (the run's oracle).
        let verdict = fuzzer.oracle().judge(&bytes, true);
        assert!(
            verdict.findings.is_empty(),
            "{name}: {:?}\ninput: \"{}\"",
            verdict.findings,
            config_fuzz::escape(&bytes)
        );
        // And the error a technician reads (`hemiwatch run --config`; check-config agrees, as
        // the oracle checked) names the problem.
        let errors = match hemiwatch::config::load_resolved(path) {
            Ok(_) => panic!("{name}: accepted"),
            Err(e) => e,
        };
        let (unreadable, words) = match expect {
            Expect::Refused(w) => (false, *w),
            Expect::Unreadable(w) => (true, *w),
        };
        assert_eq!(errors.unreadable, unreadable, "{name}: {errors}");
        assert!(
            errors.errors.iter().any(|e| e.to_string().contains(words)),
            "{name}: no error says {words:?}:\n{errors}"
        );
    }
    for (name, _) in EXPECTED {
        assert!(
            files.iter().any(|f| file_name(f) == *name),
            "{name} is expected but not in tests/fuzz_regressions/config/"
        );
    }
}

#[test]
fn the_fuzz_driver_finds_nothing_in_a_short_seeded_run() {
    let mut fuzzer = Fuzzer::new(DEFAULT_SEED).unwrap();
    // 2,000 inputs: about 4 s in a debug build (the release example runs ~3,000 inputs/s, a
    // debug build ~500/s), enough for every mutation and every reader many times over.
    let options = Options {
        inputs: 2_000,
        // A debug build on a shared machine: only a real hang should count as slow.
        slow_limit: std::time::Duration::from_secs(30),
        ..Options::default()
    };
    let report = fuzzer.run(&options, &mut NoProbe);
    println!("{report}");
    for k in &report.kept {
        println!(
            "FINDING: {}\n  from {}\n  input: \"{}\"",
            k.finding,
            k.provenance,
            config_fuzz::escape(&k.input)
        );
    }
    assert!(
        report.kept.is_empty(),
        "{} finding(s), see above",
        report.kept.len()
    );
    assert_eq!(report.inputs, 2_000);
    // The run reached every reader: some inputs valid, some refused, some unreadable, some
    // through the file paths.
    assert!(
        report.valid > 0 && report.invalid_total() > 0 && report.unreadable > 0 && report.through_file > 0
    );
}
