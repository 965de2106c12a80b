//! How well Hemiwatch predicts overheating, beside two standard baselines on the same traces in
//! the same run (issue 13):
//! - Prometheus: `predict_linear(temp_c[W], H) > 85` evaluated by the real `promtool test rules`
//!   (Debian's `prometheus` package) for W ∈ {1m, 5m, 10m}, H ∈ {300 s, 600 s}, `for` 0 s or 1 m,
//!   on a 15-s scrape (Prometheus' default) of the same readings;
//! - Zabbix: `timeleft(/h/temp,W,85,fit) < H` and `forecast(/h/temp,W,H,fit) > 85` for the fits
//!   linear, exponential and polynomial2, W ∈ 1–5 min, H ∈ {300 s, 600 s}, on every new value
//!   (re-implemented from Zabbix's code: see `quality/zabbix.rs` for where it may deviate).
//!
//! Traces: `hemiwatch::detect::traces` (first-order physics over the whole space), a
//! train set (the detector's constants may be tuned on it) and a held-out set (never tuned on),
//! both reported. Hemiwatch runs exactly the daemon's alert engine through `replay` (default
//! thresholds: critical 85 °C, horizon 300 s), at the default 500 ms telemetry period and at
//! 1000 ms. Two stages are scored: the early warning (first `overheat_predicted` or `overheat`
//! firing) and the failover order (the first `failover` line).
//!
//! Scored: runaways alerted after onset and before the true crossing, median and 10th-percentile
//! lead, false alarms on the traces that never cross. Targets (held-out): every runaway alerted
//! before it crosses; zero false warnings and zero false failovers; warning median lead ≥ 2× the
//! best zero-false-alarm baseline variant, its p10 ≥ 60 s; failover p10 lead ≥ 60 s.
//!
//! `cargo bench -p hemiwatch --bench quality` prints the tables and writes them to
//! `target/quality.md` (`-- --quick`: the train set only, without promtool, for tuning). Nothing
//! is asserted here.

#[path = "quality/zabbix.rs"]
mod zabbix;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::Command;
use std::time::Instant;

use hemiwatch::alert::{AlertState, Kind};
use hemiwatch::detect::traces::{generate, Family, Outcome, Set, Trace, CRITICAL_C};
use hemiwatch::detect::SeatRules;
use hemiwatch::replay::{replay_lines, Line};
use zabbix::{Fit, Sums};

/// Traces per family and set (8 families: 2 of runaways, 6 that never cross).
const PER_FAMILY: usize = 24;
/// The default telemetry period, ms, and the slower one also scored.
const PERIODS_MS: [u64; 2] = [500, 1_000];
/// Prometheus' default scrape interval, s.
const SCRAPE_S: u64 = 15;
const WINDOWS: [&str; 3] = ["1m", "5m", "10m"];
const HORIZONS_S: [u64; 2] = [300, 600];
/// `for:` durations: none (the earliest alert) and 1 minute (how such rules are usually written).
const FORS: [&str; 2] = ["0s", "1m"];
/// Zabbix windows, s.
const ZBX_WINDOWS_S: [u64; 5] = [60, 120, 180, 240, 300];

struct Score {
    name: String,
    family: &'static str,
    outcomes: Vec<Outcome>,
}

impl Score {
    fn new(name: String, family: &'static str, traces: &[Trace], alerts: impl Fn(usize) -> Vec<u64>) -> Self {
        Self {
            name,
            family,
            outcomes: traces
                .iter()
                .enumerate()
                .map(|(i, t)| t.score(&alerts(i)))
                .collect(),
        }
    }
    fn leads_s(&self) -> Vec<f64> {
        let mut l: Vec<f64> = self
            .outcomes
            .iter()
            .filter_map(|o| match o {
                Outcome::Caught { lead_ms } => Some(*lead_ms as f64 / 1_000.0),
                _ => None,
            })
            .collect();
        l.sort_by(f64::total_cmp);
        l
    }
    fn caught(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| matches!(o, Outcome::Caught { .. }))
            .count()
    }
    fn false_alarms(&self) -> usize {
        self.outcomes
            .iter()
            .filter(|o| **o == Outcome::FalseAlarm)
            .count()
    }
    fn median(&self) -> Option<f64> {
        let l = self.leads_s();
        (!l.is_empty()).then(|| l[l.len() / 2])
    }
    fn p10(&self) -> Option<f64> {
        let l = self.leads_s();
        (!l.is_empty()).then(|| l[l.len() / 10])
    }
    fn row(&self, runaways: usize) -> String {
        format!(
            "| {} | {}/{runaways} | {} | {} | {} |",
            self.name,
            self.caught(),
            fmt_s(self.median()),
            fmt_s(self.p10()),
            self.false_alarms()
        )
    }
}

fn fmt_s(s: Option<f64>) -> String {
    s.map_or("–".into(), |s| format!("{:.0} s ({:.1} min)", s, s / 60.0))
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "met"
    } else {
        "NOT MET"
    }
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let sets: &[Set] = if quick {
        &[Set::Train]
    } else {
        &[Set::Train, Set::HeldOut]
    };
    let mut md = String::new();
    for &set in sets {
        report(set, quick, &mut md);
    }
    print!("{md}");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/quality.md");
    if let Err(e) = std::fs::write(&path, &md) {
        eprintln!("quality: cannot write {}: {e}", path.display());
    }
}

fn report(set: Set, quick: bool, md: &mut String) {
    let mut ours = Vec::new();
    let mut traces_500 = Vec::new();
    let mut replay_note = String::new();
    for period in PERIODS_MS {
        if quick && period != PERIODS_MS[0] {
            continue;
        }
        let traces = generate(set, PER_FAMILY, period);
        let samples: usize = traces.iter().map(|t| t.rows.len()).sum();
        let started = Instant::now();
        let runs: Vec<(Vec<u64>, Vec<u64>)> = traces.iter().map(hemiwatch_alerts).collect();
        let took = started.elapsed().as_secs_f64();
        let _ = write!(
            replay_note,
            "{} traces at {period} ms, {samples} samples, replayed in {took:.1} s; ",
            traces.len()
        );
        ours.push(Score::new(
            format!("**Hemiwatch early warning** (`overheat_predicted`), {period} ms"),
            "hemiwatch",
            &traces,
            |i| runs[i].0.clone(),
        ));
        ours.push(Score::new(
            format!("**Hemiwatch failover order**, {period} ms"),
            "hemiwatch-failover",
            &traces,
            |i| runs[i].1.clone(),
        ));
        if period == PERIODS_MS[0] {
            traces_500 = traces;
        }
    }
    let traces = traces_500;
    let runaways = traces.iter().filter(|t| t.family.is_runaway()).count();
    let quiet = traces.len() - runaways;

    let started = Instant::now();
    let mut baselines = zabbix_scores(&traces);
    let zbx_s = started.elapsed().as_secs_f64();
    let started = Instant::now();
    if !quick {
        match promtool_alerts(&traces) {
            Ok(b) => {
                for (name, _short, alerts) in b {
                    baselines.push(Score::new(name, "promtool predict_linear", &traces, |i| {
                        alerts.get(&i).cloned().unwrap_or_default()
                    }));
                }
            }
            Err(e) => {
                eprintln!("quality: the promtool baseline could not run: {e}");
                std::process::exit(1);
            }
        }
    }
    let prom_s = started.elapsed().as_secs_f64();

    let _ = writeln!(
        md,
        "## {} set (seed {:#x})
",
        set.name(),
        set.seed()
    );
    let _ = writeln!(
        md,
        "| method | runaways alerted before crossing | median lead | p10 lead | false alarms (of {quiet} never-crossing) |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|---:|");
    for s in &ours {
        let _ = writeln!(md, "{}", s.row(runaways));
    }
    // Per baseline family: the best variant with zero false alarms, and the longest-lead one.
    let families: Vec<&str> = {
        let mut f: Vec<&str> = baselines.iter().map(|b| b.family).collect();
        f.dedup();
        f
    };
    for fam in &families {
        let of: Vec<&Score> = baselines.iter().filter(|b| b.family == *fam).collect();
        let best_clean = of
            .iter()
            .filter(|b| b.false_alarms() == 0 && b.caught() > 0)
            .max_by(|a, b| a.median().unwrap_or(0.0).total_cmp(&b.median().unwrap_or(0.0)));
        match best_clean {
            Some(b) => {
                let _ = writeln!(
                    md,
                    "{} — best with 0 false alarms |",
                    b.row(runaways).trim_end_matches(" |")
                );
            }
            None => {
                let _ = writeln!(md, "| {fam}: no variant with 0 false alarms | | | | |");
            }
        }
        if let Some(b) = of
            .iter()
            .filter(|b| b.caught() > 0)
            .min_by(|a, b| fewest_false(a, b))
        {
            let _ = writeln!(
                md,
                "{} — fewest false alarms |",
                b.row(runaways).trim_end_matches(" |")
            );
        }
    }
    let _ = writeln!(md);
    let _ = writeln!(
        md,
        "| false alarms by family | traces | early warning | failover |"
    );
    let _ = writeln!(md, "|---|---:|---:|---:|");
    for fam in Family::ALL.iter().filter(|f| !f.is_runaway()) {
        let idx: Vec<usize> = (0..traces.len()).filter(|i| traces[*i].family == *fam).collect();
        let fa = |s: &Score| {
            idx.iter()
                .filter(|i| s.outcomes[**i] == Outcome::FalseAlarm)
                .count()
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} |",
            fam.name(),
            idx.len(),
            fa(&ours[0]),
            fa(&ours[1])
        );
    }
    let _ = writeln!(md);

    let best = baselines
        .iter()
        .filter(|b| b.false_alarms() == 0)
        .filter_map(|b| b.median().map(|m| (m, b)))
        .max_by(|a, b| a.0.total_cmp(&b.0));
    let (warn, fail) = (&ours[0], &ours[1]);
    let _ = writeln!(
        md,
        "- every runaway alerted before it crosses {CRITICAL_C} °C: {} ({}/{runaways})",
        verdict(warn.caught() == runaways),
        warn.caught()
    );
    let _ = writeln!(
        md,
        "- zero false early warnings: {} ({}); zero false failovers: {} ({})",
        verdict(warn.false_alarms() == 0),
        warn.false_alarms(),
        verdict(fail.false_alarms() == 0),
        fail.false_alarms()
    );
    match (best, warn.median()) {
        (Some((lead, b)), Some(m)) => {
            let _ = writeln!(
                md,
                "- warning median lead ≥ 2× the best zero-false-alarm baseline ({}: {lead:.0} s): {} (ratio {:.2})",
                b.name,
                verdict(m >= 2.0 * lead),
                m / lead
            );
        }
        _ => {
            let _ = writeln!(md, "- warning median lead ≥ 2× the best zero-false-alarm baseline: no baseline variant has zero false alarms");
        }
    }
    if let (Some(b), Some(m)) = (
        baselines.iter().filter(|b| b.caught() > 0).min_by(fewest_false),
        warn.median(),
    ) {
        let _ = writeln!(
            md,
            "- beside the baseline variant with the fewest false alarms ({}: {} false, median lead {}): warning median lead ratio {:.2}",
            b.name,
            b.false_alarms(),
            fmt_s(b.median()),
            b.median().map_or(f64::NAN, |l| m / l)
        );
    }
    let _ = writeln!(
        md,
        "- warning p10 lead ≥ 60 s: {} ({}); failover p10 lead ≥ 60 s: {} ({})",
        verdict(warn.p10().is_some_and(|p| p >= 60.0)),
        fmt_s(warn.p10()),
        verdict(fail.p10().is_some_and(|p| p >= 60.0)),
        fmt_s(fail.p10())
    );
    let _ = writeln!(
        md,
        "- runs: {replay_note}Zabbix ({} variants) {zbx_s:.1} s, promtool ({} variants) {prom_s:.1} s\n",
        baselines
            .iter()
            .filter(|b| b.family.starts_with("Zabbix"))
            .count(),
        baselines
            .iter()
            .filter(|b| b.family.starts_with("promtool"))
            .count(),
    );
    if std::env::var_os("QUALITY_VERBOSE").is_some() {
        for (i, t) in traces.iter().enumerate() {
            let (w, f) = (ours[0].outcomes[i], ours[1].outcomes[i]);
            let bad = |o: Outcome| matches!(o, Outcome::FalseAlarm | Outcome::Missed);
            if bad(w) || bad(f) || matches!(f, Outcome::Caught { lead_ms } if lead_ms < 60_000) {
                eprintln!("{}: warning {w:?}, failover {f:?}", t.label);
            }
        }
    }
}

/// Orders variants by false alarms, then by longer median lead.
fn fewest_false(a: &&Score, b: &&Score) -> std::cmp::Ordering {
    a.false_alarms()
        .cmp(&b.false_alarms())
        .then(b.median().unwrap_or(0.0).total_cmp(&a.median().unwrap_or(0.0)))
}

/// When Hemiwatch warned (overheat predicted or reached) and when it ordered a failover.
fn hemiwatch_alerts(t: &Trace) -> (Vec<u64>, Vec<u64>) {
    let lines = replay_lines(&t.rows, SeatRules::defaults);
    let warn = lines
        .iter()
        .filter_map(|l| match l {
            Line::Alert(x)
                if x.state == AlertState::Firing
                    && matches!(x.kind, Kind::OverheatPredicted | Kind::Overheat) =>
            {
                Some(x.at_ms)
            }
            _ => None,
        })
        .collect();
    let failover = lines
        .iter()
        .filter_map(|l| match l {
            Line::Failover(f) => Some(f.at_ms),
            Line::Alert(_) => None,
        })
        .collect();
    (warn, failover)
}

/// Every Zabbix variant on every trace, on every new value.
fn zabbix_scores(traces: &[Trace]) -> Vec<Score> {
    #[derive(Clone, Copy)]
    enum Form {
        Timeleft,
        Forecast,
    }
    let mut variants = Vec::new();
    for fit in Fit::ALL {
        for w in ZBX_WINDOWS_S {
            for h in HORIZONS_S {
                for form in [Form::Timeleft, Form::Forecast] {
                    variants.push((fit, w, h, form));
                }
            }
        }
    }
    // first alert per (variant, trace)
    let mut first: Vec<Vec<Option<u64>>> = vec![vec![None; traces.len()]; variants.len()];
    for (ti, t) in traces.iter().enumerate() {
        let xs: Vec<(u64, f64)> = t
            .rows
            .iter()
            .map(|r| (r.t_ms, f64::from(r.temp_centi) / 100.0))
            .collect();
        for i in 0..xs.len() {
            let (now, last) = xs[i];
            // Sums of the nested windows, newest value first.
            let mut sums = [Sums::default(); ZBX_WINDOWS_S.len()];
            let mut acc = Sums::default();
            let mut k = 0;
            for j in (0..=i).rev() {
                let age = now - xs[j].0;
                while k < ZBX_WINDOWS_S.len() && age >= ZBX_WINDOWS_S[k] * 1_000 {
                    sums[k] = acc;
                    k += 1;
                }
                if k == ZBX_WINDOWS_S.len() {
                    break;
                }
                acc.add(-(age as f64) / 1_000.0, xs[j].1);
            }
            while k < ZBX_WINDOWS_S.len() {
                sums[k] = acc;
                k += 1;
            }
            for (v, (fit, w, h, form)) in variants.iter().enumerate() {
                // A deployed Zabbix has history before the trace starts: evaluate once the
                // window holds a full W of values.
                if first[v][ti].is_some() || now < *w * 1_000 {
                    continue;
                }
                let s = &sums[ZBX_WINDOWS_S.iter().position(|x| x == w).unwrap_or(0)];
                let fires = match form {
                    Form::Timeleft => s.timeleft(*fit, CRITICAL_C, last).is_some_and(|r| r < *h as f64),
                    Form::Forecast => s.forecast(*fit, *h as f64, last).is_some_and(|f| f > CRITICAL_C),
                };
                if fires {
                    first[v][ti] = Some(now);
                }
            }
        }
    }
    variants
        .iter()
        .enumerate()
        .map(|(v, (fit, w, h, form))| {
            let name = match form {
                Form::Timeleft => format!(
                    "Zabbix `timeleft(/h/temp,{}m,85,\"{}\") < {h}`",
                    w / 60,
                    fit.name()
                ),
                Form::Forecast => format!(
                    "Zabbix `forecast(/h/temp,{}m,{h},\"{}\") > 85`",
                    w / 60,
                    fit.name()
                ),
            };
            let family = match fit {
                Fit::Linear => "Zabbix linear",
                Fit::Exponential => "Zabbix exponential",
                Fit::Polynomial2 => "Zabbix polynomial2",
            };
            Score::new(name, family, traces, |ti| first[v][ti].into_iter().collect())
        })
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

    let steps = traces
        .iter()
        .filter_map(|t| t.rows.last())
        .map(|r| (r.t_ms / (SCRAPE_S * 1_000)) as usize)
        .max()
        .unwrap_or(0);
    let mut test = format!(
        "rule_files: [rules.yml]\nevaluation_interval: {SCRAPE_S}s\ntests:\n- interval: {SCRAPE_S}s\n  input_series:\n"
    );
    for (i, t) in traces.iter().enumerate() {
        // The scrape at k·15 s reads the newest sample at or before it (a gap longer than the
        // scrape interval leaves the scrape empty).
        let mut values = Vec::with_capacity(steps);
        let mut j = 0;
        for k in 0..steps {
            let at = k as u64 * SCRAPE_S * 1_000;
            while j + 1 < t.rows.len() && t.rows[j + 1].t_ms <= at {
                j += 1;
            }
            values.push(match t.rows.get(j) {
                Some(r)
                    if r.t_ms <= at
                        && at - r.t_ms < SCRAPE_S * 1_000
                        && at <= t.rows.last().map_or(0, |l| l.t_ms) =>
                {
                    format!("{}", f64::from(r.temp_centi) / 100.0)
                }
                _ => "_".into(),
            });
        }
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
