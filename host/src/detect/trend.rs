//! Predicted overheating: will this seat reach its critical temperature within the horizon?
//!
//! The estimate is built to ignore what fools a naive line fit:
//! - **glitches** — the trend is fitted to 10-second bucket *medians*, and the current level is
//!   the median of the last five samples, so a single wild sample moves neither;
//! - **noise** — the slope is Theil–Sen (median of pairwise slopes) over the last 80 s of bucket
//!   medians, and a prediction must hold for [`CONFIRM_MS`] before the alert fires;
//! - **stuck readings** — a constant reading has slope 0 and predicts nothing (the sensor
//!   detector reports the stuck sensor);
//! - **plateaus** — a console settling after a load step rises fast at first, then slows. When
//!   the last minute's slope is significantly (≥ [`SETTLING_SIGMAS`] standard errors) under the
//!   minute before's, the curve is treated as a first-order approach (T∞ = T + s·τ, τ from the
//!   two slopes) and, if it settles below critical, nothing is predicted.
//!
//! Hysteresis: once firing, the alert clears only after the linear prediction has stayed beyond
//! twice the horizon (or the trend has turned down) for [`CLEAR_MS`]; the settling test does not
//! clear a firing alert, so a slow runaway cannot flap on a noisy minute.

use super::window::{median, theil_sen, Window, BUCKETS};
use super::{SeatRules, Signal};

/// Buckets needed before predicting: the full two minutes, so the settling test can always run
/// (a seat's window is only this short for two minutes after a daemon or seat restart).
const MIN_BUCKETS: usize = BUCKETS;
/// Buckets the slope is fitted over: the last 80 s, recent enough to follow a runaway's start.
const SLOPE_BUCKETS: usize = 8;
/// Slopes under 0.1 °C/min predict nothing: at that rate a console 15 °C below critical needs
/// 2.5 hours, far beyond any horizon, and smaller slopes are within the estimate's noise.
const MIN_SLOPE_C_PER_S: f64 = 0.1 / 60.0;
/// A prediction must hold this long before the alert fires (pending meanwhile): long enough for
/// the settling test to refit once or twice on a load step whose time constant is close to the
/// horizon (where a straight line is least sure), short against a runaway's minutes of lead.
pub const CONFIRM_MS: u64 = 15_000;
/// A firing alert clears after this long without a prediction inside twice the horizon.
pub const CLEAR_MS: u64 = 30_000;
/// The late slope must be this many standard errors under the early one to call the curve
/// settling: at 2σ a steady runaway is mistaken for a plateau in 2 % of refits (and only
/// delayed by one 10-second bucket then), while a load step's deceleration is well beyond it.
const SETTLING_SIGMAS: f64 = 2.0;
/// Floor of the bucket-median scatter, °C: the TMP105's step
/// ([`RESOLUTION_C`](hemiwatch_firmware::tmp105::RESOLUTION_C)) averaged over a bucket.
const MIN_SCATTER_C: f64 = 0.02;
/// A settling curve must end at least this far below critical to be dismissed.
const SETTLING_MARGIN_C: f64 = 0.5;

/// The trend detector's state for one seat.
#[derive(Clone, Debug, Default)]
pub struct Trend {
    slope: Option<f64>,
    settles_below_critical: bool,
    raised_since: Option<u64>,
    clear_since: Option<u64>,
    firing: bool,
    predicted_at_ms: Option<u64>,
}

impl Trend {
    /// Re-evaluates after a sample was added to `window` (`bucket_closed` when that sample
    /// closed a bucket, so the slope is refitted).
    pub fn update(&mut self, window: &Window, bucket_closed: bool, now_ms: u64, rules: &SeatRules) -> Signal {
        if bucket_closed {
            self.refit(window, now_ms, rules);
        }
        let level = window.level();
        let crossing = match (level, self.slope) {
            (Some(level), Some(slope)) if slope >= MIN_SLOPE_C_PER_S && level < rules.critical_c => {
                Some(now_ms + ((rules.critical_c - level) / slope * 1_000.0) as u64)
            }
            (Some(level), Some(_)) if level >= rules.critical_c => Some(now_ms),
            _ => None,
        };
        let within =
            |factor: u64| crossing.is_some_and(|at| at.saturating_sub(now_ms) <= rules.horizon_ms * factor);
        if self.firing {
            self.predicted_at_ms = crossing.or(self.predicted_at_ms);
            if within(2) {
                self.clear_since = None;
            } else if now_ms.saturating_sub(*self.clear_since.get_or_insert(now_ms)) >= CLEAR_MS {
                *self = Self {
                    slope: self.slope,
                    settles_below_critical: self.settles_below_critical,
                    ..Self::default()
                };
                return Signal::Clear;
            }
            return Signal::Firing;
        }
        if within(1) && !self.settles_below_critical {
            self.predicted_at_ms = crossing;
            let since = *self.raised_since.get_or_insert(now_ms);
            if now_ms - since >= CONFIRM_MS {
                self.firing = true;
                self.clear_since = None;
                return Signal::Firing;
            }
            Signal::Pending
        } else {
            self.raised_since = None;
            self.predicted_at_ms = None;
            Signal::Clear
        }
    }

    fn refit(&mut self, window: &Window, now_ms: u64, rules: &SeatRules) {
        let mut pts: heapless::Vec<(u64, f64), BUCKETS> = window.buckets().collect();
        if pts.len() < MIN_BUCKETS {
            self.slope = None;
            self.settles_below_critical = false;
            return;
        }
        let recent = &pts[pts.len().saturating_sub(SLOPE_BUCKETS)..];
        self.slope = theil_sen(recent);
        self.settles_below_critical = false;
        if pts.len() == BUCKETS {
            let (early, late) = pts.split_at_mut(BUCKETS / 2);
            if let (Some(s1), Some(s2), Some(level)) = (theil_sen(early), theil_sen(late), window.level()) {
                // Is the late slope significantly under the early one? The noise of a 6-point
                // slope comes from the scatter of the bucket medians about each half's own line.
                let se_diff = std::f64::consts::SQRT_2 * slope_se(early, s1).max(slope_se(late, s2));
                if s1 >= MIN_SLOPE_C_PER_S && s1 - s2 > SETTLING_SIGMAS * se_diff {
                    let asymptote = if s2 <= 0.0 {
                        level
                    } else {
                        // First-order approach: s(t) = s1·exp(-Δ/τ) between the half centres;
                        // the slope now is s2 decayed from the late centre, and the curve ends
                        // at T + s_now·τ.
                        let centre = |h: &[(u64, f64)]| (h[0].0 + h[h.len() - 1].0) as f64 / 2_000.0;
                        let tau_s = (centre(late) - centre(early)) / (s1 / s2).ln();
                        let since_late_s = (now_ms as f64 / 1_000.0 - centre(late)).max(0.0);
                        level + s2 * (-since_late_s / tau_s).exp() * tau_s
                    };
                    self.settles_below_critical = asymptote < rules.critical_c - SETTLING_MARGIN_C;
                }
            }
        }
    }

    /// Assumes a firing episode (an alert restored after a restart): it clears only on
    /// evidence, after the usual hysteresis.
    pub fn assume_firing(&mut self) {
        self.firing = true;
    }

    /// When the seat is predicted to cross critical (while pending or firing).
    pub fn predicted_at_ms(&self) -> Option<u64> {
        self.predicted_at_ms
    }

    /// The fitted slope, °C per minute (for the dashboard and logs).
    pub fn slope_c_per_min(&self) -> Option<f64> {
        self.slope.map(|s| s * 60.0)
    }

    /// Forgets the episode (sensor fault, new boot); the firing state is the engine's to end.
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

/// Standard error of a Theil–Sen slope `s` of `pts` (°C/s): the robust scatter of the points
/// about their own line (1.4826 × MAD), over the spread of their times.
fn slope_se(pts: &[(u64, f64)], s: f64) -> f64 {
    let n = pts.len();
    if n < 3 {
        return f64::INFINITY;
    }
    let mut buf: heapless::Vec<f64, BUCKETS> =
        pts.iter().map(|(t, v)| v - s * (*t as f64 / 1_000.0)).collect();
    let intercept = median(&mut buf);
    let mut res: heapless::Vec<f64, BUCKETS> = pts
        .iter()
        .map(|(t, v)| (v - s * (*t as f64 / 1_000.0) - intercept).abs())
        .collect();
    let scatter = (1.4826 * median(&mut res)).max(MIN_SCATTER_C);
    let mean_t = pts.iter().map(|(t, _)| *t as f64 / 1_000.0).sum::<f64>() / n as f64;
    let sxx: f64 = pts
        .iter()
        .map(|(t, _)| (*t as f64 / 1_000.0 - mean_t).powi(2))
        .sum();
    scatter / sxx.sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};

    fn rules() -> SeatRules {
        SeatRules::defaults(1)
    }

    /// Runs a trace (°C as a function of seconds) at 2 Hz; returns the first firing time (s)
    /// and the number of Firing→Clear transitions.
    fn run(seconds: u64, f: impl Fn(f64) -> f64) -> (Option<f64>, usize, Option<u64>) {
        let (mut w, mut t) = (Window::default(), Trend::default());
        let (mut first, mut clears, mut was, mut predicted) = (None, 0, false, None);
        for i in 0..seconds * 2 {
            let now = 1_000_000 + i * 500;
            let closed = w.push(now, f(i as f64 / 2.0));
            let s = t.update(&w, closed, now, &rules());
            let firing = s == Signal::Firing;
            if firing && first.is_none() {
                first = Some(i as f64 / 2.0);
                predicted = t.predicted_at_ms();
            }
            if was && !firing {
                clears += 1;
            }
            was = firing;
        }
        (first, clears, predicted)
    }

    fn noise(seed: u64, sigma: f64) -> impl Fn(f64) -> f64 {
        // Deterministic per-time noise: a hash of the time feeds a seeded generator.
        move |t: f64| {
            let mut r = rand::rngs::SmallRng::seed_from_u64(seed ^ (t * 2.0) as u64);
            (r.random::<f64>() - 0.5) * 2.0 * sigma * 1.7
        }
    }

    #[test]
    fn a_runaway_fires_before_crossing_with_the_predicted_time() {
        for rate in [0.5, 2.0, 10.0] {
            let n = noise(7, 0.2);
            let start = 60.0;
            let f = |t: f64| 45.0 + if t > start { (t - start) / 60.0 * rate } else { 0.0 } + n(t);
            let crossing = start + (85.0 - 45.0) / rate * 60.0;
            let (first, _, predicted) = run(crossing as u64 + 120, f);
            let first = first.unwrap_or_else(|| panic!("{rate} °C/min never fired"));
            assert!(
                first < crossing,
                "{rate} °C/min fired at {first} s, crossing at {crossing} s"
            );
            let lead = crossing - first;
            assert!(lead >= 60.0, "{rate} °C/min: only {lead:.0} s of lead");
            let predicted_s = (predicted.unwrap() - 1_000_000) as f64 / 1_000.0;
            assert!(
                (predicted_s - crossing).abs() < 0.3 * lead,
                "{rate}: predicted {predicted_s}, true {crossing}, lead {lead}"
            );
        }
    }

    #[test]
    fn a_plateau_just_below_critical_never_fires() {
        for seed in 1..=8 {
            plateau(seed);
        }
    }

    fn plateau(seed: u64) {
        let n = noise(seed, 0.3);
        // Steady at 60 °C for 3 minutes, then a load step settling at 82 °C with a 5-minute
        // time constant (a console's enclosure: minutes, not seconds).
        let step = |t: f64, to: f64, tau: f64| {
            if t < 180.0 {
                60.0
            } else {
                to - (to - 60.0) * (-(t - 180.0) / tau).exp()
            }
        };
        let (first, _, _) = run(3_600, |t| step(t, 82.0, 300.0) + n(t));
        assert_eq!(first, None, "5-minute step to 82 °C, seed {seed}");
        let (first, _, _) = run(3_600, |t| step(t, 80.0, 600.0) + n(t));
        assert_eq!(first, None, "10-minute step to 80 °C, seed {seed}");
    }

    #[test]
    fn glitches_and_a_stuck_sensor_do_not_fire() {
        let (first, _, _) = run(1_800, |t| {
            if (t as u64).is_multiple_of(37) {
                125.0
            } else {
                50.0
            }
        });
        assert_eq!(first, None, "single-sample glitches");
        let (first, _, _) = run(1_800, |_| 84.0);
        assert_eq!(first, None, "stuck just under critical");
    }

    #[test]
    fn a_firing_alert_does_not_flap_on_a_noisy_slow_runaway() {
        let n = noise(11, 0.3);
        let (first, clears, _) = run(6_000, |t| 70.0 + t / 60.0 * 0.5 + n(t));
        assert!(first.is_some());
        assert_eq!(clears, 0);
    }

    #[test]
    fn it_clears_after_the_trend_turns() {
        // Heats at 6 °C/min for 3 min, then failover: cools back.
        let f = |t: f64| {
            if t < 180.0 {
                50.0 + t / 10.0
            } else {
                50.0 + 18.0 * (-(t - 180.0) / 120.0).exp()
            }
        };
        let (first, clears, _) = run(900, f);
        assert!(first.is_some());
        assert_eq!(clears, 1);
    }
}
