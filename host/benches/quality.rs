//! How well Hemiwatch predicts overheating, beside the standard Prometheus rule on the same
//! traces in the same run: `predict_linear(temp_c[W], H) > 85`, evaluated by the real
//! `promtool test rules` (Debian's `prometheus` package) for W ∈ {1m, 5m, 10m} and
//! H ∈ {300 s, 600 s}, on a 15-s scrape of the same sensor readings (Prometheus' default scrape
//! interval).
//!
//! Traces come from `hemiwatch::sim::thermal` (first-order thermal model, sensor noise, 12-bit
//! quantisation): runaways at 0.5–10 °C/min at onset, warm plateaus at 70–82 °C, noisy steady
//! seats, single-sample glitches, stuck sensors, load steps. Hemiwatch runs exactly the daemon's
//! alert engine through `replay` (default thresholds: critical 85 °C, horizon 300 s); an alert is
//! the first `overheat_predicted` or `overheat` firing.
//!
//! Reported: recall on runaways (alerted after onset and before the true crossing), median and
//! 10th-percentile lead before the crossing, false alarms on the traces that never cross (or an
//! alert before a runaway's onset). Targets: recall 100 %, zero false alarms, and a median lead
//! at least that of the best predict_linear variant with zero false alarms (ratio ≥ 1).
//!
//! `cargo bench -p hemiwatch --bench quality` prints the tables and writes them to
//! `target/quality.md`. Nothing is asserted here; the detector's test holds it to the targets
//! on a small suite.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::Command;
use std::time::Instant;

use hemiwatch::alert::{AlertState, Kind};
use hemiwatch::detect::SeatRules;
use hemiwatch::replay::replay;
use hemiwatch::sim::thermal::{suite, Class, Outcome, SuiteSize, Trace, CRITICAL_C, PERIOD_MS};

/// Prometheus' default scrape interval, s.
const SCRAPE_S: u64 = 15;
const WINDOWS: [&str; 3] = ["1m", "5m", "10m"];
const HORIZONS_S: [u64; 2] = [300, 600];
/// `for:` durations: none (the earliest alert) and 1 minute (how such rules are usually written,
/// to ride out noise).
const FORS: [&str; 2] = ["0s", "1m"];

struct Score {
    name: String,
    short: String,
    outcomes: Vec<Outcome>,
}

impl Score {
    fn leads_min(&self) -> Vec<f64> {
        let mut l: Vec<f64> = self
            .outcomes
            .iter()
            .filter_map(|o| match o {
                Outcome::Caught { lead_ms } => Some(*lead_ms as f64 / 60_000.0),
                _ => None,
            })
            .collect();
        l.sort_by(f64::total_cmp);
        l
    }
    fn count(&self, f: impl Fn(&Outcome) -> bool) -> usize {
        self.outcomes.iter().filter(|o| f(o)).count()
    }
    fn false_alarms(&self) -> usize {
        self.count(|o| *o == Outcome::FalseAlarm)
    }
    fn median_lead(&self) -> Option<f64> {
        let l = self.leads_min();
        (!l.is_empty()).then(|| l[l.len() / 2])
    }
    fn p10_lead(&self) -> Option<f64> {
        let l = self.leads_min();
        (!l.is_empty()).then(|| l[l.len() / 10])
    }
}

fn main() {
    let traces = suite(
        2026,
        SuiteSize {
            runaways: 30,
            others: 10,
        },
    );
    let runaways = traces.iter().filter(|t| t.class == Class::Runaway).count();
    let samples: usize = traces.iter().map(|t| t.rows.len()).sum();

    let started = Instant::now();
    let hemiwatch = Score {
        name: "Hemiwatch (Theil–Sen trend on 10-s medians, settling check), horizon 300 s".into(),
        short: "Hemiwatch".into(),
        outcomes: traces.iter().map(|t| t.score(&hemiwatch_alerts(t))).collect(),
    };
    let replay_s = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let baselines = match promtool_alerts(&traces) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("quality: the baseline could not run: {e}");
            std::process::exit(1);
        }
    };
    let promtool_s = started.elapsed().as_secs_f64();
    let baselines: Vec<Score> = baselines
        .into_iter()
        .map(|(name, short, alerts)| Score {
            short,
            outcomes: traces
                .iter()
                .enumerate()
                .map(|(i, t)| t.score(alerts.get(&i).map(Vec::as_slice).unwrap_or(&[])))
                .collect(),
            name,
        })
        .collect();

    let mut md = String::new();
    let _ = writeln!(
        md,
        "| method | runaways alerted before crossing | median lead, min | p10 lead, min | false alarms (of {}) |",
        traces.len() - runaways
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|");
    for s in std::iter::once(&hemiwatch).chain(&baselines) {
        let caught = s.count(|o| matches!(o, Outcome::Caught { .. }));
        let _ = writeln!(
            md,
            "| {} | {caught}/{runaways} | {} | {} | {} |",
            s.name,
            fmt_min(s.median_lead()),
            fmt_min(s.p10_lead()),
            s.false_alarms()
        );
    }
    let _ = writeln!(md);
    let _ = writeln!(
        md,
        "| false alarms by trace class | traces | {} |",
        names(&hemiwatch, &baselines)
    );
    let _ = writeln!(md, "|---|---:|{}", "---:|".repeat(1 + baselines.len()));
    let classes = [
        Class::Plateau,
        Class::Steady,
        Class::Glitches,
        Class::Stuck,
        Class::LoadSteps,
        Class::Runaway,
    ];
    for class in classes {
        let idx: Vec<usize> = (0..traces.len()).filter(|i| traces[*i].class == class).collect();
        let row: Vec<String> = std::iter::once(&hemiwatch)
            .chain(&baselines)
            .map(|s| {
                idx.iter()
                    .filter(|i| s.outcomes[**i] == Outcome::FalseAlarm)
                    .count()
                    .to_string()
            })
            .collect();
        let _ = writeln!(md, "| {} | {} | {} |", class.name(), idx.len(), row.join(" | "));
    }
    let _ = writeln!(md);

    let best = baselines
        .iter()
        .filter(|b| b.false_alarms() == 0)
        .filter_map(|b| b.median_lead().map(|m| (m, b)))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let all_caught = hemiwatch.count(|o| matches!(o, Outcome::Caught { .. })) == runaways;
    let _ = writeln!(
        md,
        "target: every runaway alerted before it crosses {CRITICAL_C} °C: {}",
        verdict(all_caught)
    );
    let _ = writeln!(
        md,
        "target: zero false alarms: {} ({})",
        verdict(hemiwatch.false_alarms() == 0),
        hemiwatch.false_alarms()
    );
    match (best, hemiwatch.median_lead()) {
        (Some((lead, b)), Some(ours)) => {
            let _ = writeln!(
                md,
                "target: median lead ≥ best zero-false-alarm predict_linear ({}: {lead:.1} min): {} (ratio {:.2})",
                b.name,
                verdict(ours >= lead),
                ours / lead
            );
        }
        (None, _) => {
            let _ = writeln!(
                md,
                "target: median lead ≥ best zero-false-alarm predict_linear: no predict_linear variant has zero false alarms"
            );
        }
        (_, None) => {
            let _ = writeln!(md, "target: median lead: Hemiwatch caught no runaway: FAILED");
        }
    }
    let _ = writeln!(
        md,
        "note: {} traces, {samples} samples at {} ms; Hemiwatch replay took {replay_s:.2} s ({:.1} M samples/s), promtool {promtool_s:.1} s; the baseline sees a {SCRAPE_S}-s scrape of the same readings",
        traces.len(),
        PERIOD_MS,
        samples as f64 / replay_s / 1e6
    );
    print!("{md}");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/quality.md");
    if let Err(e) = std::fs::write(&path, &md) {
        eprintln!("quality: cannot write {}: {e}", path.display());
    }
}

/// Column names: Hemiwatch, then each baseline variant as W/H/for.
fn names(h: &Score, b: &[Score]) -> String {
    std::iter::once(h)
        .chain(b)
        .map(|s| s.short.as_str())
        .collect::<Vec<_>>()
        .join(" | ")
}

fn fmt_min(m: Option<f64>) -> String {
    m.map_or("–".into(), |m| format!("{m:.1}"))
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT MET"
    }
}

/// When Hemiwatch started alerting (overheat predicted or reached) on a trace.
fn hemiwatch_alerts(t: &Trace) -> Vec<u64> {
    replay(&t.rows, SeatRules::defaults)
        .into_iter()
        .filter(|x| {
            x.state == AlertState::Firing && matches!(x.kind, Kind::OverheatPredicted | Kind::Overheat)
        })
        .map(|x| x.at_ms)
        .collect()
}

/// Runs every predict_linear variant on every trace in one `promtool test rules`, and returns,
/// per variant, the times (ms) each trace's alert fired at.
///
/// promtool has no "print the alerts" mode, so every evaluation step is a test expecting no
/// alert; the failures it prints list the alerts that did fire, with their time and labels.
#[allow(clippy::type_complexity)]
fn promtool_alerts(traces: &[Trace]) -> Result<Vec<(String, String, BTreeMap<usize, Vec<u64>>)>, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mut rules = String::from("groups:\n- name: baseline\n  interval: 15s\n  rules:\n");
    let mut variants = Vec::new();
    for w in WINDOWS {
        for h in HORIZONS_S {
            for f in FORS {
                let alert = format!("pl_{w}_{h}s_for_{f}");
                let _ = write!(
                    rules,
                    "  - alert: {alert}\n    expr: predict_linear(temp_c[{w}], {h}) > {CRITICAL_C}\n    for: {f}\n"
                );
                variants.push((
                    alert,
                    format!("predict_linear(temp_c[{w}], {h}) > 85, for {f}"),
                    format!("{w}/{h}s/for {f}"),
                ));
            }
        }
    }
    std::fs::write(dir.path().join("rules.yml"), rules).map_err(|e| e.to_string())?;

    let every = (SCRAPE_S * 1000 / PERIOD_MS) as usize;
    let steps = traces.iter().map(|t| t.rows.len() / every).max().unwrap_or(0);
    let mut test = format!(
        "rule_files: [rules.yml]\nevaluation_interval: {SCRAPE_S}s\ntests:\n- interval: {SCRAPE_S}s\n  input_series:\n"
    );
    for (i, t) in traces.iter().enumerate() {
        let values: Vec<String> = (0..steps)
            .map(|k| {
                t.rows
                    .get(k * every)
                    .map_or("_".into(), |r| format!("{}", f64::from(r.temp_centi) / 100.0))
            })
            .collect();
        let _ = write!(
            test,
            "  - series: 'temp_c{{trace=\"{i}\"}}'\n    values: '{}'\n",
            values.join(" ")
        );
    }
    test.push_str("  alert_rule_test:\n");
    for k in 1..steps {
        for (alert, _, _) in &variants {
            let _ = write!(
                test,
                "  - eval_time: {}s\n    alertname: {alert}\n    exp_alerts: []\n",
                k as u64 * SCRAPE_S
            );
        }
    }
    std::fs::write(dir.path().join("test.yml"), test).map_err(|e| e.to_string())?;
    let out = Command::new("promtool")
        .args(["test", "rules", "test.yml"])
        .current_dir(dir.path())
        .output()
        .map_err(|e| format!("promtool: {e} (install the `prometheus` package: scripts/setup.sh does)"))?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        // No alert at all, on any trace: possible only if every variant missed everything.
        return Ok(variants
            .into_iter()
            .map(|(_, n, short)| (n, short, BTreeMap::new()))
            .collect());
    }
    let mut fired: BTreeMap<String, BTreeMap<usize, Vec<u64>>> = BTreeMap::new();
    let mut current: Option<(String, u64)> = None;
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("alertname: ") {
            let (name, time) = rest
                .split_once(", time: ")
                .ok_or_else(|| format!("unexpected promtool line: {line}"))?;
            let time = time.trim_end_matches([',', ' ']);
            let ms = humantime::parse_duration(time)
                .map_err(|e| format!("promtool time `{time}`: {e}"))?
                .as_millis() as u64;
            current = Some((name.to_string(), ms));
        } else if let (Some(labels), Some((name, ms))) = (line.strip_prefix("Labels:{"), &current) {
            let trace = labels
                .split("trace=\"")
                .nth(1)
                .and_then(|s| s.split('"').next())
                .and_then(|s| s.parse::<usize>().ok())
                .ok_or_else(|| format!("no trace label in: {line}"))?;
            fired
                .entry(name.clone())
                .or_default()
                .entry(trace)
                .or_default()
                .push(*ms);
        } else if line.contains("error") || line.contains("Error") {
            return Err(format!("promtool: {line}"));
        }
    }
    Ok(variants
        .into_iter()
        .map(|(alert, name, short)| (name, short, fired.remove(&alert).unwrap_or_default()))
        .collect())
}
