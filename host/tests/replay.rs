//! `hemiwatch replay` as a user runs it: the real binary on CSV files, with and without a
//! config, and on malformed input.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

fn replay(csv: &Path, config: Option<&Path>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_hemiwatch"));
    cmd.arg("replay")
        .arg("--csv")
        .arg(csv)
        .env_remove("HEMIWATCH_CONFIG");
    if let Some(c) = config {
        cmd.arg("--config").arg(c);
    }
    cmd.output().expect("hemiwatch runs")
}

/// Seat 12 steady at 45 °C for 4 min then climbing 3 °C/min to 95 °C; seat 30 noisy and steady
/// at 60 °C with one wild glitch; both at 1 Hz. Returns the CSV and the true crossing of 85 °C.
fn recording() -> (String, u64) {
    let mut csv = String::from("t_ms,seat,temp_centi\n");
    let start = 1_790_000_000_000u64;
    let mut crossing = None;
    for s in 0..1_600u64 {
        let t = start + s * 1_000;
        let hot = if s < 240 {
            45.0
        } else {
            45.0 + (s - 240) as f64 * 3.0 / 60.0
        };
        if hot >= 85.0 && crossing.is_none() {
            crossing = Some(t);
        }
        if hot <= 95.0 {
            csv += &format!("{t},12,{}\n", (hot * 100.0).round() as i64);
        }
        let noise = [0, 12, -9, 25, -20, 7, -3, 18][(s % 8) as usize];
        let steady = if s == 700 { 12_500 } else { 6_000 + noise };
        csv += &format!("{t},30,{steady}\n");
    }
    (csv, crossing.expect("the ramp crosses 85 °C"))
}

fn lines(out: &Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON: {l}: {e}")))
        .collect()
}

#[test]
fn a_recording_replays_to_the_same_alerts_every_time() {
    let dir = tempfile::tempdir().unwrap();
    let (text, crossing) = recording();
    let csv = dir.path().join("incident.csv");
    std::fs::write(&csv, text).unwrap();
    let out = replay(&csv, None);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let alerts = lines(&out);
    let predicted = alerts
        .iter()
        .find(|a| a["kind"] == "overheat_predicted" && a["state"] == "firing")
        .unwrap_or_else(|| panic!("no prediction in {alerts:#?}"));
    assert_eq!(predicted["seat"], 12);
    let at = predicted["at_ms"].as_u64().unwrap();
    assert!(
        at + 60_000 <= crossing,
        "predicted at {at}, crossing at {crossing}"
    );
    assert!(predicted["predicted_critical_at_ms"].as_u64().is_some());
    assert!(
        alerts.iter().any(|a| a["kind"] == "overheat" && a["seat"] == 12),
        "{alerts:#?}"
    );
    assert!(
        alerts.iter().all(|a| a["seat"] == 12),
        "the noisy, glitching seat 30 raised nothing: {alerts:#?}"
    );
    assert_eq!(replay(&csv, None).stdout, out.stdout, "deterministic");

    // The prediction explains itself: model, slope, asymptote and τ with their ranges, and the
    // crossing with its interval.
    let why = &predicted["explanation"];
    assert!(why["model"].is_string(), "{predicted}");
    assert!(
        why["slope_c_per_min"]["best"]
            .as_f64()
            .is_some_and(|s| (s - 3.0).abs() < 0.5),
        "{why}"
    );
    assert!(why["crossing_ms"].as_u64().is_some(), "{why}");
    // One failover line for the runaway, before it crosses, and none for the steady seat.
    let failovers: Vec<&Value> = alerts.iter().filter(|a| a["kind"] == "failover").collect();
    assert_eq!(failovers.len(), 1, "{failovers:#?}");
    let order = failovers[0];
    assert_eq!(order["seat"], 12);
    assert_eq!(order["state"], "ordered");
    let ordered_at = order["at_ms"].as_u64().unwrap();
    assert!(
        ordered_at + 60_000 <= crossing,
        "ordered at {ordered_at}, crossing at {crossing}"
    );
    assert!(
        ordered_at >= at,
        "the order follows the warning: {ordered_at} < {at}"
    );
    assert!(order["explanation"]["confident"] == true, "{order}");

    // A config with a lower critical threshold for seat 12 makes it aim lower.
    let config = dir.path().join("hemiwatch.toml");
    std::fs::write(
        &config,
        r#"
[thresholds]
warn_c = 60
critical_c = 75

[[line]]
name = "a"
path = "/dev/ttyUSB0"

[[seat]]
id = 12
sector = "A"
row = 1
position = 12
line = "a"
key = "000102030405060708090a0b0c0d0e0f"
"#,
    )
    .unwrap();
    let out = replay(&csv, Some(&config));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let earlier = lines(&out)
        .into_iter()
        .find(|a| a["kind"] == "overheat_predicted" && a["state"] == "firing")
        .expect("a prediction with the config");
    // It warns no later, and aims at the lower threshold: the crossing it predicts is earlier.
    assert!(earlier["at_ms"].as_u64().unwrap() <= at, "{earlier} vs {at}");
    let eta = |a: &Value| a["predicted_critical_at_ms"].as_u64().unwrap();
    assert!(
        eta(&earlier) + 120_000 < eta(predicted),
        "{earlier} vs {predicted}"
    );
}

#[test]
fn malformed_rows_are_refused_with_their_line_and_status_2() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("bad.csv");
    std::fs::write(&csv, "t_ms,seat,temp_centi\n0,1,4000\n500,1,hot\n1000,1,4000\n").unwrap();
    let out = replay(&csv, None);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:3: error: temp_centi `hot`", csv.display())),
        "{err}"
    );
    assert!(out.stdout.is_empty(), "nothing replayed from a bad file");

    std::fs::write(&csv, "when,who,what\n").unwrap();
    let out = replay(&csv, None);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains(":1: error: the header must be"));

    let out = replay(&dir.path().join("missing.csv"), None);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot read"));
}
