//! Thermal traces that cover the space a seat can be in (issue 13, item 1), each with the truth
//! it was made from, for the predictive detector's quality bench and its tests.
//!
//! Physics: a console relaxes toward a target with time constant τ,
//! `dT/dt = (target(t) − T) / τ`, integrated exactly per sample for a constant target and
//! stepwise for a moving one. The sensor adds Gaussian noise (σ 0.02–0.5 °C, log-uniform) and
//! quantises to the TMP105's 0.0625 °C ([`RESOLUTION_C`]); some traces also carry single-sample
//! glitches (+30 °C, or the sensor's extremes) and gaps (rows missing for 5–90 s).
//!
//! Families ([`Family`]):
//! - runaways (must be alerted before the true temperature reaches critical): a *power step*
//!   toward a target of 92–140 °C at 0.3–15 °C/min at onset (τ from the two), and a *power ramp*
//!   (the target climbs at 0.3–15 °C/min, τ 0.5–10 min); a third of them start from a warm
//!   plateau (70–80 °C);
//! - never crossing (must never be alerted): first-order *plateaus* settling 4–15 °C under
//!   critical (τ 30 s–15 min), *steady* levels 20–84 °C, single and repeated *load steps* of either
//!   sign between levels up to 78 °C every 1–5 min, slow *drifts* (≤ 0.5 °C/min, ending ≤ 80 °C),
//!   *ambient* changes (±2–8 °C with τ 5–15 min), and *stuck* sensors (frozen on one value).
//!
//! Between the runaways' lowest target (92 °C) and the plateaus' highest (81 °C) lies a band no
//! trace settles in: a seat settling at 83 °C is neither a runaway to alert on nor a plateau whose
//! alert is false, and the generator does not pretend to know which it is.
//!
//! Two sets from two fixed seeds ([`Set`]): `Train`, which the detector's constants may be tuned
//! on, and `HeldOut`, which they never are; the quality bench reports both.

use hemiwatch_firmware::tmp105::{MAX_C, MEASURABLE_MIN_C, RESOLUTION_C};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

use crate::config::defaults::DEFAULT_CRITICAL_C;
use crate::replay::Row;

/// Critical temperature the truth is computed against, °C: the default critical threshold.
pub const CRITICAL_C: f64 = DEFAULT_CRITICAL_C;
/// Minutes of steady history before anything happens: what the detector knows beforehand.
const WARMUP_MIN: f64 = 10.0;
/// Lowest runaway target, °C: 7 °C above critical, so a runaway is unambiguous.
const RUNAWAY_MIN_TARGET_C: f64 = 92.0;
/// Highest plateau, °C: 4 °C under critical (the "4 to 15 °C under critical").
const PLATEAU_MAX_C: f64 = 81.0;
/// Highest load level, °C (the "load steps up to 78 °C").
const LOAD_MAX_C: f64 = 78.0;

/// Which seed a set is drawn from.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Set {
    /// Constants may be tuned on it.
    Train,
    /// Never tuned on: the figures that count.
    HeldOut,
}

impl Set {
    /// Its fixed seed.
    pub const fn seed(self) -> u64 {
        match self {
            Self::Train => 0x7EA1_2026,
            Self::HeldOut => 0x4E1D_0013,
        }
    }
    /// Lower-case name for tables.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Train => "train",
            Self::HeldOut => "held-out",
        }
    }
}

/// Kinds of traces.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Family {
    /// A power step toward 92–140 °C.
    StepRunaway,
    /// A target climbing at a constant rate.
    RampRunaway,
    /// Settling 4–15 °C under critical.
    Plateau,
    /// Steady at 20–84 °C.
    Steady,
    /// Repeated load steps of either sign up to 78 °C.
    LoadSteps,
    /// A slow drift.
    Drift,
    /// The room's temperature changes.
    Ambient,
    /// The sensor freezes on one value.
    Stuck,
}

impl Family {
    /// Every family, runaways first.
    pub const ALL: [Family; 8] = [
        Self::StepRunaway,
        Self::RampRunaway,
        Self::Plateau,
        Self::Steady,
        Self::LoadSteps,
        Self::Drift,
        Self::Ambient,
        Self::Stuck,
    ];
    /// Whether its traces cross critical.
    pub const fn is_runaway(self) -> bool {
        matches!(self, Self::StepRunaway | Self::RampRunaway)
    }
    /// Lower-case name for tables.
    pub const fn name(self) -> &'static str {
        match self {
            Self::StepRunaway => "runaway (power step)",
            Self::RampRunaway => "runaway (power ramp)",
            Self::Plateau => "plateau",
            Self::Steady => "steady",
            Self::LoadSteps => "load steps",
            Self::Drift => "drift",
            Self::Ambient => "ambient change",
            Self::Stuck => "stuck sensor",
        }
    }
}

/// One generated trace.
#[derive(Clone, Debug)]
pub struct Trace {
    /// What it is.
    pub family: Family,
    /// A short description with its parameters.
    pub label: String,
    /// The sensor's readings (seat 1), from t = 0, gaps left out.
    pub rows: Vec<Row>,
    /// When the incident began, ms (runaways; never-crossing traces: `None`).
    pub onset_ms: Option<u64>,
    /// When the true (noiseless) temperature first reached [`CRITICAL_C`], ms.
    pub crossing_ms: Option<u64>,
}

/// What an alerting method did on one trace.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Outcome {
    /// Alerted after the onset and this many ms before the true crossing.
    Caught {
        /// Lead before the crossing, ms.
        lead_ms: u64,
    },
    /// A runaway alerted only at or after its crossing, or never.
    Missed,
    /// Alerted on a trace that never crosses critical, or before a runaway's onset.
    FalseAlarm,
    /// A never-crossing trace, rightly never alerted.
    Quiet,
}

impl Trace {
    /// Scores the times (ms, any order) at which a method alerted on this trace.
    pub fn score(&self, alerts_at_ms: &[u64]) -> Outcome {
        let onset = self.onset_ms.unwrap_or(0);
        if alerts_at_ms.iter().any(|t| *t < onset) {
            return Outcome::FalseAlarm;
        }
        match (self.crossing_ms, alerts_at_ms.iter().min()) {
            (Some(c), Some(first)) if *first < c => Outcome::Caught { lead_ms: c - first },
            (Some(_), _) => Outcome::Missed,
            (None, Some(_)) => Outcome::FalseAlarm,
            (None, None) => Outcome::Quiet,
        }
    }
}

/// `per_family` traces of every family, sampled every `period_ms`, from `set`'s seed (same
/// arguments, same traces).
pub fn generate(set: Set, per_family: usize, period_ms: u64) -> Vec<Trace> {
    let mut rng = SmallRng::seed_from_u64(set.seed());
    let mut out = Vec::new();
    for family in Family::ALL {
        for i in 0..per_family {
            // Stratified onset rates for the runaways: log-spaced over 0.3–15 °C/min.
            let frac = (i as f64 + rng.random::<f64>()) / per_family.max(1) as f64;
            out.push(one(&mut rng, family, frac, period_ms));
        }
    }
    out
}

fn log_uniform(rng: &mut SmallRng, lo: f64, hi: f64) -> f64 {
    (lo.ln() + rng.random::<f64>() * (hi.ln() - lo.ln())).exp()
}

/// A target (°C) and time constant (min) as a function of minutes since the start.
type Drive<'a> = Box<dyn Fn(f64) -> (f64, f64) + 'a>;

fn one(rng: &mut SmallRng, family: Family, frac: f64, period_ms: u64) -> Trace {
    let sigma = log_uniform(rng, 0.02, 0.5);
    let warm = rng.random::<f64>() < 1.0 / 3.0;
    let onset_min = WARMUP_MIN;
    let mut stuck_at_min = None;
    let (label, start, drive, minutes): (String, f64, Drive, f64) = match family {
        Family::StepRunaway => {
            let rate = 0.3 * 50f64.powf(frac);
            let start = if warm {
                rng.random_range(70.0..80.0)
            } else {
                rng.random_range(25.0..65.0)
            };
            let mut target = rng.random_range(RUNAWAY_MIN_TARGET_C..140.0);
            let mut tau = (target - start) / rate;
            if tau < 0.5 {
                tau = 0.5;
                target = start + rate * tau;
            }
            let tau = tau.min(300.0);
            (
                format!("{rate:.2} °C/min, {start:.0} → {target:.0} °C, τ {tau:.1} min, σ {sigma:.2}"),
                start,
                Box::new(move |m: f64| {
                    if m < onset_min {
                        (start, tau)
                    } else {
                        (target, tau)
                    }
                }),
                f64::INFINITY,
            )
        }
        Family::RampRunaway => {
            let rate = 0.3 * 50f64.powf(frac);
            let start = if warm {
                rng.random_range(70.0..80.0)
            } else {
                rng.random_range(25.0..65.0)
            };
            let tau = log_uniform(rng, 0.5, 10.0);
            (
                format!("ramp {rate:.2} °C/min from {start:.0} °C, τ {tau:.1} min, σ {sigma:.2}"),
                start,
                Box::new(move |m: f64| (start + rate * (m - onset_min).max(0.0), tau)),
                f64::INFINITY,
            )
        }
        Family::Plateau => {
            let target = rng.random_range(70.0..PLATEAU_MAX_C);
            let start = if warm {
                rng.random_range(55.0..target - 3.0)
            } else {
                rng.random_range(20.0..55.0)
            };
            let tau = log_uniform(rng, 0.5, 15.0);
            (
                format!("{start:.0} → {target:.1} °C, τ {tau:.1} min, σ {sigma:.2}"),
                start,
                Box::new(move |m: f64| {
                    if m < onset_min {
                        (start, tau)
                    } else {
                        (target, tau)
                    }
                }),
                onset_min + (6.0 * tau).max(20.0),
            )
        }
        Family::Steady => {
            let level = rng.random_range(20.0..84.0);
            (
                format!("{level:.1} °C, σ {sigma:.2}"),
                level,
                Box::new(move |_| (level, 1.0)),
                40.0,
            )
        }
        Family::LoadSteps => {
            let base = rng.random_range(30.0..65.0);
            let tau = log_uniform(rng, 0.5, 10.0);
            let mut at = onset_min;
            let mut steps = Vec::new();
            while at < 60.0 {
                steps.push((at, rng.random_range(base..LOAD_MAX_C)));
                at += rng.random_range(1.0..5.0);
            }
            (
                format!("{} steps between {base:.0} and ≤ {LOAD_MAX_C} °C every 1–5 min, τ {tau:.1} min, σ {sigma:.2}", steps.len()),
                base,
                Box::new(move |m: f64| {
                    let level = steps.iter().rev().find(|(a, _)| *a <= m).map_or(base, |(_, l)| *l);
                    (level, tau)
                }),
                60.0,
            )
        }
        Family::Drift => {
            let start: f64 = rng.random_range(30.0..75.0);
            let rate: f64 = rng.random_range(0.05..0.5) * if rng.random::<bool>() { 1.0 } else { -1.0 };
            let end = (start + rate * 40.0).clamp(20.0, 80.0);
            let tau = log_uniform(rng, 1.0, 10.0);
            (
                format!(
                    "drift {rate:+.2} °C/min from {start:.0} to {end:.0} °C, τ {tau:.1} min, σ {sigma:.2}"
                ),
                start,
                Box::new(move |m: f64| {
                    let target = start + rate * (m - onset_min).max(0.0);
                    (
                        if rate > 0.0 {
                            target.min(end)
                        } else {
                            target.max(end)
                        },
                        tau,
                    )
                }),
                55.0,
            )
        }
        Family::Ambient => {
            let base = rng.random_range(40.0..72.0);
            let jump = rng.random_range(2.0..8.0) * if rng.random::<bool>() { 1.0 } else { -1.0 };
            let tau = rng.random_range(5.0..15.0);
            (
                format!("{base:.0} °C, the room {jump:+.1} °C at 10 min, τ {tau:.1} min, σ {sigma:.2}"),
                base,
                Box::new(move |m: f64| {
                    if m < onset_min {
                        (base, tau)
                    } else {
                        (base + jump, tau)
                    }
                }),
                50.0,
            )
        }
        Family::Stuck => {
            let level = rng.random_range(20.0..84.0);
            stuck_at_min = Some(rng.random_range(5.0..20.0));
            (
                format!("{level:.1} °C, frozen, σ {sigma:.2}"),
                level,
                Box::new(move |_| (level, 1.0)),
                45.0,
            )
        }
    };
    let glitches = rng.random::<f64>() < 0.3;
    let gaps: Vec<(f64, f64)> = if rng.random::<f64>() < 0.25 {
        (0..rng.random_range(1..=3))
            .map(|_| {
                let at = rng.random_range(2.0..40.0);
                (at, at + rng.random_range(5.0..90.0) / 60.0)
            })
            .collect()
    } else {
        Vec::new()
    };
    let mut temp = start;
    let mut rows = Vec::new();
    let mut crossing = None;
    let mut frozen = None;
    let dt_min = period_ms as f64 / 60_000.0;
    let mut i: u64 = 0;
    loop {
        let m = i as f64 * dt_min;
        if m >= minutes || crossing.is_some_and(|c: u64| i * period_ms >= c + 120_000) || m > 600.0 {
            break;
        }
        let (target, tau) = drive(m);
        temp += (target - temp) * (1.0 - (-dt_min / tau).exp());
        if crossing.is_none() && temp >= CRITICAL_C {
            crossing = Some(i * period_ms);
        }
        let z: f64 = rng.sample(StandardNormal);
        let mut reading = temp + sigma * z;
        if stuck_at_min.is_some_and(|s| m >= s) {
            reading = *frozen.get_or_insert(reading);
        } else if glitches && rng.random::<f64>() < 1.0 / 240.0 {
            reading = [f64::from(MAX_C), f64::from(MEASURABLE_MIN_C), reading + 30.0][rng.random_range(0..3)];
        }
        if !gaps.iter().any(|(a, b)| m >= *a && m < *b) {
            rows.push(Row {
                t_ms: i * period_ms,
                seat: 1,
                temp_centi: ((reading / RESOLUTION_C).round() * RESOLUTION_C * 100.0)
                    .round()
                    .clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16,
            });
        }
        i += 1;
    }
    let extras = match (glitches, gaps.len()) {
        (true, 0) => ", glitches".to_string(),
        (true, n) => format!(", glitches, {n} gap(s)"),
        (false, 0) => String::new(),
        (false, n) => format!(", {n} gap(s)"),
    };
    Trace {
        family,
        label: format!("{}: {label}{extras}", family.name()),
        rows,
        onset_ms: family.is_runaway().then_some((onset_min * 60_000.0) as u64),
        crossing_ms: crossing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_are_deterministic_distinct_and_truthful() {
        let a = generate(Set::Train, 3, 500);
        let b = generate(Set::Train, 3, 500);
        let h = generate(Set::HeldOut, 3, 500);
        assert_eq!(a.len(), 3 * Family::ALL.len());
        assert_eq!(a[0].rows, b[0].rows, "same seed, same trace");
        assert_ne!(a[0].rows, h[0].rows, "held-out differs from train");
        for t in &a {
            assert_eq!(t.family.is_runaway(), t.crossing_ms.is_some(), "{}", t.label);
            if let (Some(o), Some(c)) = (t.onset_ms, t.crossing_ms) {
                assert!(c > o, "{}: crosses before onset", t.label);
            }
            // Every sample is on the TMP105's grid, to the wire's centi-°C (½ centi of 6.25 = 0.08 step).
            let off_grid = |r: &Row| {
                let steps = f64::from(r.temp_centi) / 100.0 / RESOLUTION_C;
                (steps - steps.round()).abs() > 0.1
            };
            assert!(!t.rows.iter().any(off_grid), "{}", t.label);
        }
    }
}
