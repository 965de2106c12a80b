//! The simulator's one thermal model ([`Model`]), and temperature traces made with it, each with
//! the truth it was made from (when the runaway began, when the true temperature crossed critical). They are
//! the test material of the predictive detector: the quality benchmark scores Hemiwatch and
//! Prometheus' `predict_linear` on them, and a test holds the detector to its targets on a
//! small set.
//!
//! Physics: a console's temperature relaxes toward a target (ambient plus what its load
//! dissipates) with time constant τ: `dT/dt = (target − T) / τ`, integrated exactly per sample.
//! A runaway is a target above critical (a failing regulator, a blocked fan); a plateau is a new
//! target below it (more load, a warm room). The sensor adds Gaussian noise and quantises to the
//! TMP105's resolution. The simulated seats ([`SimSeat`](super::SimSeat)) run the same model
//! with their scenario's targets, so the traces and a live simulated hemicycle share one physics.

use hemiwatch_firmware::tmp105::{MAX_C, MEASURABLE_MIN_C, RESOLUTION_C};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

use crate::config::defaults::{DEFAULT_CRITICAL_C, DEFAULT_PERIOD_MS};
use crate::replay::Row;

/// Sample period of the traces, ms: the default telemetry period a seat is configured with.
pub const PERIOD_MS: u64 = DEFAULT_PERIOD_MS as u64;
/// Critical temperature the truth is computed against, °C: the default critical threshold.
pub const CRITICAL_C: f64 = DEFAULT_CRITICAL_C;
/// Steady minutes before anything happens: what the detectors know of the seat beforehand.
const WARMUP_MIN: f64 = 10.0;

/// Kinds of traces.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Class {
    /// Heading above critical at 0.5–10 °C/min at onset: must be alerted before the crossing.
    Runaway,
    /// Settling at 70–82 °C (τ 5–15 min): must never be alerted.
    Plateau,
    /// Steady with a noisy sensor.
    Steady,
    /// Steady with single-sample glitches (spikes to the sensor's top and bottom, and +30 °C).
    Glitches,
    /// The sensor freezes on one value.
    Stuck,
    /// Load steps up by 12–22 °C and back, τ 3–8 min, never near critical.
    LoadSteps,
}

impl Class {
    /// Lower-case name for tables.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Runaway => "runaway",
            Self::Plateau => "plateau",
            Self::Steady => "noisy steady",
            Self::Glitches => "glitches",
            Self::Stuck => "stuck sensor",
            Self::LoadSteps => "load steps",
        }
    }
}

/// One generated trace.
#[derive(Clone, Debug)]
pub struct Trace {
    /// What it is.
    pub class: Class,
    /// A short description with its parameters.
    pub label: String,
    /// The sensor's readings (seat 1), one per [`PERIOD_MS`], from t = 0.
    pub rows: Vec<Row>,
    /// When the incident began (runaways and plateaus), ms.
    pub onset_ms: Option<u64>,
    /// When the true (noiseless) temperature first reached [`CRITICAL_C`], ms.
    pub crossing_ms: Option<u64>,
}

impl Trace {
    /// A trace in which nothing happens that an alert should follow (no onset, no crossing).
    fn without_incident(class: Class, label: String, rows: Vec<Row>) -> Self {
        Self {
            class,
            label,
            rows,
            onset_ms: None,
            crossing_ms: None,
        }
    }
}

/// How many traces of each class a suite has.
#[derive(Copy, Clone, Debug)]
pub struct SuiteSize {
    /// Runaways, at onset rates log-spaced over 0.5–10 °C/min.
    pub runaways: usize,
    /// Each of the other classes.
    pub others: usize,
}

/// A deterministic suite of traces (same seed, same traces).
pub fn suite(seed: u64, size: SuiteSize) -> Vec<Trace> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut traces = Vec::new();
    for i in 0..size.runaways {
        let frac = if size.runaways > 1 {
            i as f64 / (size.runaways - 1) as f64
        } else {
            0.5
        };
        let rate = 0.5 * 20f64.powf(frac);
        traces.push(runaway(&mut rng, rate));
    }
    for i in 0..size.others {
        let frac = if size.others > 1 {
            i as f64 / (size.others - 1) as f64
        } else {
            0.5
        };
        traces.push(plateau(&mut rng, 70.0 + 12.0 * frac));
        traces.push(steady(&mut rng));
        traces.push(glitches(&mut rng));
        traces.push(stuck(&mut rng));
        traces.push(load_steps(&mut rng));
    }
    traces
}

/// A console and its sensor: the true temperature follows `dT/dt = (target − T) / τ` with
/// piecewise-constant targets and time constants chosen by the caller, integrated exactly over
/// each step (so the step length does not change the trajectory); a reading adds Gaussian noise.
#[derive(Clone, Debug)]
pub struct Model {
    temp_c: f64,
    sigma_c: f64,
}

impl Model {
    /// A console at `start_c` whose sensor has noise of standard deviation `sigma_c` (a negative
    /// or NaN sigma is taken as noiseless).
    pub fn new(start_c: f64, sigma_c: f64) -> Self {
        Self {
            temp_c: start_c,
            sigma_c: sigma_c.max(0.0),
        }
    }

    /// The true (noiseless) temperature, °C.
    pub fn temp_c(&self) -> f64 {
        self.temp_c
    }

    /// Advances `dt_ms` toward `target_c` with time constant `tau_min` (minutes).
    pub fn step(&mut self, target_c: f64, tau_min: f64, dt_ms: u64) {
        let dt_min = dt_ms as f64 / 60_000.0;
        self.temp_c += (target_c - self.temp_c) * (1.0 - (-dt_min / tau_min).exp());
    }

    /// What the sensor senses: the true temperature plus noise, before quantisation.
    pub fn sense<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        let z: f64 = rng.sample(StandardNormal);
        self.temp_c + self.sigma_c * z
    }

    /// One reading: [`Self::sense`] quantised to the TMP105's resolution.
    pub fn read<R: Rng + ?Sized>(&self, rng: &mut R) -> f64 {
        quantise(self.sense(rng))
    }
}

/// Rounds a temperature to the TMP105's 12-bit resolution, as its converter does.
pub fn quantise(temp_c: f64) -> f64 {
    (temp_c / RESOLUTION_C).round() * RESOLUTION_C
}

fn row(i: usize, temp_c: f64) -> Row {
    Row {
        t_ms: i as u64 * PERIOD_MS,
        seat: 1,
        temp_centi: (temp_c * 100.0)
            .round()
            .clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16,
    }
}

const fn samples(minutes: f64) -> usize {
    (minutes * 60_000.0 / PERIOD_MS as f64) as usize
}

fn runaway(rng: &mut SmallRng, rate_c_per_min: f64) -> Trace {
    let start = rng.random_range(40.0..55.0);
    let target = rng.random_range(100.0..130.0);
    let tau = (target - start) / rate_c_per_min;
    let mut m = Model::new(start, rng.random_range(0.05..0.25));
    let onset = samples(WARMUP_MIN);
    let mut rows = Vec::new();
    let mut crossing = None;
    let mut i = 0;
    // Until 2 minutes after the true crossing.
    while crossing.is_none_or(|c: usize| i < c + samples(2.0)) {
        if i >= onset {
            m.step(target, tau, PERIOD_MS);
        }
        if crossing.is_none() && m.temp_c >= CRITICAL_C {
            crossing = Some(i);
        }
        rows.push(row(i, m.read(rng)));
        i += 1;
    }
    Trace {
        class: Class::Runaway,
        label: format!("{rate_c_per_min:.2} °C/min at onset, {start:.0} → {target:.0} °C, τ {tau:.0} min"),
        rows,
        onset_ms: Some(onset as u64 * PERIOD_MS),
        crossing_ms: crossing.map(|c| c as u64 * PERIOD_MS),
    }
}

fn plateau(rng: &mut SmallRng, target: f64) -> Trace {
    let start = rng.random_range(40.0..55.0);
    let tau = rng.random_range(5.0..15.0);
    let mut m = Model::new(start, rng.random_range(0.05..0.25));
    let onset = samples(WARMUP_MIN);
    let total = onset + samples(6.0 * tau);
    let rows = (0..total)
        .map(|i| {
            if i >= onset {
                m.step(target, tau, PERIOD_MS);
            }
            row(i, m.read(rng))
        })
        .collect();
    Trace {
        class: Class::Plateau,
        label: format!("{start:.0} → {target:.1} °C, τ {tau:.1} min"),
        rows,
        onset_ms: Some(onset as u64 * PERIOD_MS),
        crossing_ms: None,
    }
}

fn steady(rng: &mut SmallRng) -> Trace {
    let level = rng.random_range(45.0..68.0);
    let sigma = rng.random_range(0.4..1.0);
    let m = Model::new(level, sigma);
    Trace::without_incident(
        Class::Steady,
        format!("{level:.0} °C, σ {sigma:.2} °C"),
        (0..samples(60.0)).map(|i| row(i, m.read(rng))).collect(),
    )
}

fn glitches(rng: &mut SmallRng) -> Trace {
    let level = rng.random_range(50.0..68.0);
    let m = Model::new(level, 0.15);
    let rows = (0..samples(60.0))
        .map(|i| {
            let r = m.read(rng);
            // About one glitch every 2 minutes, of three kinds a loose connector produces.
            if rng.random::<f64>() < 1.0 / 240.0 {
                let spike = [f64::from(MAX_C), f64::from(MEASURABLE_MIN_C), r + 30.0][rng.random_range(0..3)];
                row(i, spike)
            } else {
                row(i, r)
            }
        })
        .collect();
    Trace::without_incident(
        Class::Glitches,
        format!("{level:.0} °C, a single-sample glitch every ~2 min"),
        rows,
    )
}

fn stuck(rng: &mut SmallRng) -> Trace {
    let level = rng.random_range(55.0..75.0);
    let m = Model::new(level, 0.15);
    let at = samples(WARMUP_MIN);
    let mut frozen = None;
    let rows = (0..samples(45.0))
        .map(|i| {
            let r = m.read(rng);
            row(i, if i >= at { *frozen.get_or_insert(r) } else { r })
        })
        .collect();
    Trace::without_incident(
        Class::Stuck,
        format!("{level:.0} °C, frozen after {WARMUP_MIN} min"),
        rows,
    )
}

fn load_steps(rng: &mut SmallRng) -> Trace {
    let base = rng.random_range(45.0..55.0);
    let step = rng.random_range(12.0..22.0);
    let tau = rng.random_range(3.0..8.0);
    let mut m = Model::new(base, rng.random_range(0.05..0.25));
    let phase = samples(15.0);
    let rows = (0..samples(60.0))
        .map(|i| {
            let loaded = i >= samples(WARMUP_MIN) && ((i - samples(WARMUP_MIN)) / phase).is_multiple_of(2);
            m.step(if loaded { base + step } else { base }, tau, PERIOD_MS);
            row(i, m.read(rng))
        })
        .collect();
    Trace::without_incident(
        Class::LoadSteps,
        format!("{base:.0} ↔ {:.0} °C every 15 min, τ {tau:.1} min", base + step),
        rows,
    )
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
    /// A non-runaway trace, rightly never alerted.
    Quiet,
}

impl Trace {
    /// Scores the times (ms, any order) at which a method started alerting on this trace.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alert::{AlertState, Kind};
    use crate::detect::SeatRules;
    use crate::replay::replay;

    /// Hemiwatch's detector on a small suite: every runaway alerted at least a minute before
    /// it crosses critical, nothing else alerted. The full figures are the `quality` benchmark.
    #[test]
    fn the_detector_catches_every_runaway_early_and_nothing_else() {
        let traces = suite(
            7,
            SuiteSize {
                runaways: 6,
                others: 2,
            },
        );
        assert!(traces.iter().any(|t| t.class == Class::Plateau));
        for t in &traces {
            let alerts: Vec<u64> = replay(&t.rows, SeatRules::defaults)
                .into_iter()
                .filter(|x| {
                    x.state == AlertState::Firing
                        && matches!(x.kind, Kind::OverheatPredicted | Kind::Overheat)
                })
                .map(|x| x.at_ms)
                .collect();
            match (t.class, t.score(&alerts)) {
                (Class::Runaway, Outcome::Caught { lead_ms }) => {
                    assert!(lead_ms >= 60_000, "{}: lead {lead_ms} ms", t.label)
                }
                (Class::Runaway, o) => panic!("{}: {o:?}", t.label),
                (_, Outcome::Quiet) => {}
                (c, o) => panic!("{:?} {}: {o:?} at {alerts:?}", c, t.label),
            }
        }
    }

    #[test]
    fn truth_matches_the_model() {
        let traces = suite(
            1,
            SuiteSize {
                runaways: 3,
                others: 1,
            },
        );
        for t in &traces {
            let last = t
                .rows
                .last()
                .map(|r| f64::from(r.temp_centi) / 100.0)
                .unwrap_or_default();
            match t.class {
                Class::Runaway => {
                    let c = t.crossing_ms.expect("a runaway crosses");
                    assert!(c > t.onset_ms.unwrap_or(u64::MAX), "{}", t.label);
                    assert!(last > CRITICAL_C, "{}: ends at {last}", t.label);
                }
                _ => {
                    assert!(t.crossing_ms.is_none());
                    let max = t
                        .rows
                        .iter()
                        .filter(|r| r.temp_centi < 12_000 && r.temp_centi > -5_000)
                        .map(|r| r.temp_centi)
                        .max()
                        .unwrap_or_default();
                    assert!(max < 8_500 || t.class == Class::Glitches, "{}: {max}", t.label);
                }
            }
        }
        assert_eq!(
            Trace {
                class: Class::Runaway,
                label: String::new(),
                rows: Vec::new(),
                onset_ms: Some(1_000),
                crossing_ms: Some(10_000),
            }
            .score(&[4_000, 2_000]),
            Outcome::Caught { lead_ms: 8_000 }
        );
    }
}
