//! Overheat: the filtered temperature (median of the last five samples, so one glitch cannot
//! trigger it) has reached critical. Clears once it has stayed [`HYSTERESIS_C`] below critical
//! for [`CLEAR_MS`], so a console hovering at the threshold does not flap.

use super::{SeatRules, Signal, Window};

/// How far below critical the level must fall to clear.
pub const HYSTERESIS_C: f64 = 1.0;
/// How long it must stay there.
pub const CLEAR_MS: u64 = 30_000;
/// Samples the level must rest on before it can fire: three agree, so one glitch is outvoted.
const MIN_SAMPLES: usize = 3;

/// The overheat detector's state for one seat.
#[derive(Clone, Debug, Default)]
pub struct Overheat {
    firing: bool,
    clear_since: Option<u64>,
}

impl Overheat {
    /// Re-evaluates after a sample was added to `window`.
    pub fn update(&mut self, window: &Window, now_ms: u64, rules: &SeatRules) -> Signal {
        let Some(level) = window.level().filter(|_| window.level_samples() >= MIN_SAMPLES) else {
            return if self.firing {
                Signal::Firing
            } else {
                Signal::Clear
            };
        };
        if level >= rules.critical_c {
            self.firing = true;
            self.clear_since = None;
        } else if self.firing && level < rules.critical_c - HYSTERESIS_C {
            if now_ms.saturating_sub(*self.clear_since.get_or_insert(now_ms)) >= CLEAR_MS {
                *self = Self::default();
            }
        } else {
            self.clear_since = None;
        }
        if self.firing {
            Signal::Firing
        } else {
            Signal::Clear
        }
    }

    /// Assumes a firing episode (an alert restored after a restart): it clears only on
    /// evidence, after the usual hysteresis.
    pub fn assume_firing(&mut self) {
        self.firing = true;
    }

    /// Forgets the episode.
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fires_at_critical_ignores_a_glitch_and_clears_with_hysteresis() {
        let rules = SeatRules::defaults(1);
        let (mut w, mut o) = (Window::default(), Overheat::default());
        let at = |w: &mut Window, o: &mut Overheat, t: u64, c: f64| {
            w.push(t, c);
            o.update(w, t, &rules)
        };
        for i in 0..10 {
            assert_eq!(at(&mut w, &mut o, i * 500, 80.0), Signal::Clear);
        }
        assert_eq!(at(&mut w, &mut o, 5_000, 120.0), Signal::Clear, "one glitch");
        let mut t = 5_500;
        let mut s = Signal::Clear;
        for _ in 0..3 {
            s = at(&mut w, &mut o, t, 85.2);
            t += 500;
        }
        assert_eq!(s, Signal::Firing);
        // Just under critical, inside the hysteresis band: still firing a minute later.
        for _ in 0..120 {
            s = at(&mut w, &mut o, t, 84.5);
            t += 500;
        }
        assert_eq!(s, Signal::Firing);
        // Well under: clears after 30 s.
        let cooled = t;
        while s == Signal::Firing {
            s = at(&mut w, &mut o, t, 80.0);
            t += 500;
        }
        assert!(t - cooled >= CLEAR_MS);
    }
}
