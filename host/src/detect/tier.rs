//! Temperature tiers as hardware managers name them: has this seat's filtered temperature been at
//! its warn, critical or emergency level long enough to say so, and has it been back under long
//! enough to stop saying so?
//!
//! | tier        | alert                | IPMI threshold           | hwmon                       | Redfish           |
//! |-------------|----------------------|--------------------------|-----------------------------|-------------------|
//! | `warn`      | `temperature_warn`   | upper non-critical (UNC) | `tempN_max` / `_max_hyst`   | `UpperCaution`    |
//! | `critical`  | `overheat`           | upper critical (UC)      | `tempN_crit` / `_crit_hyst` | `UpperCritical`   |
//! | `emergency` | `overheat_emergency` | upper non-recoverable    | `tempN_emergency` / `_hyst` | `UpperFatal`      |
//!
//! Each tier has an absolute trip level and an absolute clear level (like hwmon's `_hyst`
//! files, a temperature, not a delta), and the seat a dwell each way (the `for:` and
//! `keep_firing_for:` of a Prometheus rule; IPMI's assertion filtering): a tier trips once the
//! level has stayed at or above its trip level for [`TierRules::dwell_ms`], and clears once it has
//! stayed at or under its clear level for [`TierRules::clear_dwell_ms`]. In between (the
//! hysteresis band) it keeps its state, and a level leaving the side it was waiting on starts the
//! wait again. Both dwells are settings; their defaults and reasons are in
//! [`crate::config::defaults`].
//!
//! The level is the window's median of the last five samples, read once it rests on three, so a
//! single glitch never moves it; the dwell then outlasts a burst that outvotes the median for a
//! few samples. No sample (a frame without a temperature) is no evidence either way: the tiers
//! keep their state.
//!
//! The tiers nest: a tier stands while any tier above it stands, so a seat at emergency is at
//! critical and warn too, and a lower tier never clears before a higher one (its own clear level
//! may be above the higher tier's). The engine maps a tier to its alert kind
//! ([`crate::alert::Kind::of_tier`]).

use super::{Signal, Window};

/// Samples the level must rest on before it counts: three agree, so one glitch is outvoted.
const MIN_SAMPLES: usize = 3;

/// A temperature tier, from the least to the most urgent.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Tier {
    /// Worth a look: the console is warmer than it should run (no action on the seat).
    Warn,
    /// The console's parts are at their limit: the seat is failed over to its standby.
    Critical,
    /// Past the parts' absolute limit although the failover cut the console's load: someone must
    /// cut the seat's power.
    Emergency,
}

impl Tier {
    /// Every tier, least urgent first.
    pub const ALL: [Tier; 3] = [Self::Warn, Self::Critical, Self::Emergency];

    /// The name the config's keys start with (`warn_c`, `critical_clear_c`, `emergency_c`…).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Warn => "warn",
            Self::Critical => "critical",
            Self::Emergency => "emergency",
        }
    }

    /// The signal of this tier's alert while the seat stands at `current`: the tiers nest, so a
    /// tier fires while it or any tier above it stands.
    pub fn signal(self, current: Option<Tier>) -> Signal {
        if current >= Some(self) {
            Signal::Firing
        } else {
            Signal::Clear
        }
    }
}

/// One tier's levels, °C, both absolute.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Levels {
    /// The tier trips once the level has held at or above this for the dwell.
    pub trip_c: f64,
    /// It clears once the level has held at or under this for the clear dwell (below `trip_c`:
    /// the hysteresis that keeps a seat hovering at its level from flapping).
    pub clear_c: f64,
}

/// What a seat's tiers run with, from the config (`[thresholds]` → `[board.<kind>]` →
/// `[[seat]]`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TierRules {
    /// `warn_c`, `warn_clear_c`.
    pub warn: Levels,
    /// `critical_c`, `critical_clear_c`: the temperature the prediction aims at, too.
    pub critical: Levels,
    /// `emergency_c`, `emergency_clear_c`.
    pub emergency: Levels,
    /// `dwell`, ms: how long a level must hold before a tier trips.
    pub dwell_ms: u64,
    /// `clear_dwell`, ms: how long a level must hold before a tier clears.
    pub clear_dwell_ms: u64,
}

impl TierRules {
    /// The tiers around a warn and a critical level, everything else at its default: clear levels
    /// a hysteresis under, emergency a margin over critical, the default dwells
    /// ([`crate::config::defaults`]). What a config that names only `warn_c` and `critical_c`
    /// runs with, and what tests and tools without a config start from.
    pub fn around(warn_c: f64, critical_c: f64) -> Self {
        use crate::config::defaults::{
            default_clear_c, default_emergency_c, DEFAULT_CLEAR_DWELL, DEFAULT_DWELL,
        };
        let emergency_c = default_emergency_c(critical_c);
        let levels = |trip_c: f64| Levels {
            trip_c,
            clear_c: default_clear_c(trip_c),
        };
        Self {
            warn: levels(warn_c),
            critical: levels(critical_c),
            emergency: levels(emergency_c),
            dwell_ms: DEFAULT_DWELL.as_millis() as u64,
            clear_dwell_ms: DEFAULT_CLEAR_DWELL.as_millis() as u64,
        }
    }

    /// The levels of `tier`.
    pub const fn levels(&self, tier: Tier) -> Levels {
        match tier {
            Tier::Warn => self.warn,
            Tier::Critical => self.critical,
            Tier::Emergency => self.emergency,
        }
    }
}

impl Default for TierRules {
    /// The config's defaults ([`crate::config::defaults`]).
    fn default() -> Self {
        use crate::config::defaults::{DEFAULT_CRITICAL_C, DEFAULT_WARN_C};
        Self::around(DEFAULT_WARN_C, DEFAULT_CRITICAL_C)
    }
}

/// One tier's state: tripped or not, and since when the level has been on the side that would
/// change it.
#[derive(Clone, Copy, Debug, Default)]
struct Comparator {
    tripped: bool,
    since_ms: Option<u64>,
}

impl Comparator {
    fn update(&mut self, level: f64, levels: Levels, now_ms: u64, rules: &TierRules) {
        // NaN compares false: it is never a reason to trip or to clear.
        let (toward, wait_ms) = if self.tripped {
            (level <= levels.clear_c, rules.clear_dwell_ms)
        } else {
            (level >= levels.trip_c, rules.dwell_ms)
        };
        if !toward {
            self.since_ms = None;
            return;
        }
        let since = *self.since_ms.get_or_insert(now_ms);
        if now_ms.saturating_sub(since) >= wait_ms {
            self.tripped = !self.tripped;
            self.since_ms = None;
        }
    }
}

/// The tier machine of one seat (see the module docs).
#[derive(Clone, Debug, Default)]
pub struct Tiers {
    /// Indexed by `Tier as usize`.
    comparators: [Comparator; 3],
}

impl Tiers {
    /// Re-evaluates after a sample was added to `window`; returns the tier the seat stands at.
    pub fn update(&mut self, window: &Window, now_ms: u64, rules: &TierRules) -> Option<Tier> {
        if let Some(level) = window.level().filter(|_| window.level_samples() >= MIN_SAMPLES) {
            for tier in Tier::ALL {
                self.comparators[tier as usize].update(level, rules.levels(tier), now_ms, rules);
            }
        }
        self.tier()
    }

    /// The tier the seat stands at: the highest one tripped (`None`: under every tier).
    pub fn tier(&self) -> Option<Tier> {
        Tier::ALL
            .into_iter()
            .rev()
            .find(|t| self.comparators[*t as usize].tripped)
    }

    /// Assumes `tier` tripped (its alert restored after a restart): it clears only on evidence,
    /// after the clear dwell.
    pub fn assume(&mut self, tier: Tier) {
        self.comparators[tier as usize] = Comparator {
            tripped: true,
            since_ms: None,
        };
    }

    /// Forgets everything (a faulty sensor: its readings are no evidence of a tier).
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Default levels (warn 70/69, critical 85/84, emergency 95/94) with a 5 s dwell and a 30 s
    /// clear dwell.
    fn rules() -> TierRules {
        TierRules::default()
    }

    /// A seat fed at 2 Hz; `feed` returns the tier after each sample.
    struct Seat {
        window: Window,
        tiers: Tiers,
        t_ms: u64,
        rules: TierRules,
    }

    impl Seat {
        fn new(rules: TierRules) -> Self {
            Self {
                window: Window::default(),
                tiers: Tiers::default(),
                t_ms: 1_000_000,
                rules,
            }
        }

        fn sample(&mut self, c: f64) -> Option<Tier> {
            self.window.push(self.t_ms, c);
            let tier = self.tiers.update(&self.window, self.t_ms, &self.rules);
            self.t_ms += 500;
            tier
        }

        /// Feeds `c` for `secs`; returns how many seconds passed before the tier became `want`
        /// (`None`: it never did).
        fn hold(&mut self, c: f64, secs: f64, want: Option<Tier>) -> Option<f64> {
            let start = self.t_ms;
            let mut at = None;
            for _ in 0..(secs * 2.0) as u64 {
                let now = self.t_ms;
                if self.sample(c) == want && at.is_none() {
                    at = Some((now - start) as f64 / 1_000.0);
                }
            }
            at
        }
    }

    #[test]
    fn a_tier_trips_after_the_dwell_not_before() {
        let mut s = Seat::new(rules());
        assert_eq!(s.hold(60.0, 10.0, Some(Tier::Warn)), None);
        // At 71 °C the median needs three samples (1 s) to move, then 5 s of dwell.
        let at = s.hold(71.0, 20.0, Some(Tier::Warn)).expect("warn trips");
        assert!((6.0..=6.5).contains(&at), "tripped after {at} s");
        // Held at warn for 20 s: nothing higher.
        assert_eq!(s.tiers.tier(), Some(Tier::Warn));
        let mut s = Seat::new(rules());
        s.hold(60.0, 10.0, None);
        // Four seconds over the level, then back: the dwell never completed.
        assert_eq!(s.hold(71.0, 4.0, Some(Tier::Warn)), None);
        assert_eq!(s.hold(60.0, 10.0, Some(Tier::Warn)), None);
    }

    #[test]
    fn a_tier_clears_at_its_absolute_clear_level_after_the_clear_dwell() {
        let r = TierRules {
            critical: Levels {
                trip_c: 85.0,
                clear_c: 80.0,
            },
            ..rules()
        };
        let mut s = Seat::new(r);
        s.hold(60.0, 5.0, None);
        assert!(s.hold(86.0, 10.0, Some(Tier::Critical)).is_some());
        // One degree under the trip level is inside the band, not a clear.
        assert_eq!(s.hold(84.0, 120.0, Some(Tier::Warn)), None);
        assert_eq!(s.tiers.tier(), Some(Tier::Critical));
        // At the clear level: clears once the clear dwell has passed, not before.
        let at = s.hold(80.0, 60.0, Some(Tier::Warn)).expect("critical clears");
        assert!((31.0..=31.5).contains(&at), "cleared after {at} s");
        // Warn stands until its own clear level.
        assert_eq!(s.hold(75.0, 60.0, None), None);
        assert!(s.hold(69.0, 60.0, None).is_some());
    }

    #[test]
    fn glitches_and_noise_neither_trip_nor_clear_a_tier() {
        let mut s = Seat::new(rules());
        s.hold(60.0, 10.0, None);
        // A glitch to the sensor's top every 2 s, for a minute: one in four samples.
        for i in 0..120 {
            let c = if i % 4 == 0 { 125.0 } else { 60.0 };
            assert_eq!(s.sample(c), None, "sample {i}");
        }
        // Two glitches in a row, repeatedly: the median outvotes them.
        for i in 0..120 {
            let c = if i % 5 < 2 { 125.0 } else { 60.0 };
            assert_eq!(s.sample(c), None, "sample {i}");
        }
        // Tripped, then dips to 0 °C (a sensor's reset value) and cold noise don't clear it.
        assert!(s.hold(90.0, 10.0, Some(Tier::Critical)).is_some());
        for i in 0..240 {
            let c = if i % 4 == 0 {
                0.0
            } else {
                90.0 + [0.3, -0.2, 0.1][i % 3]
            };
            assert_eq!(s.sample(c), Some(Tier::Critical), "sample {i}");
        }
        // Noise around the trip level, the median dipping under it now and then: it never
        // holds 5 s above, so nothing trips from scratch.
        let mut s = Seat::new(rules());
        s.hold(60.0, 10.0, None);
        for i in 0..600 {
            let c =
                70.0 + [0.5, -0.5, 0.5, -0.5, -0.5, 0.5, -0.5][i % 7] + if i % 13 < 6 { -1.0 } else { 0.0 };
            assert_eq!(s.sample(c), None, "sample {i}");
        }
    }

    #[test]
    fn emergency_stands_above_critical_and_the_tiers_nest() {
        let mut s = Seat::new(rules());
        s.hold(60.0, 5.0, None);
        // A step to 100 °C trips all three together, after the same dwell.
        let at = s
            .hold(100.0, 10.0, Some(Tier::Emergency))
            .expect("emergency trips");
        assert!(at <= 6.5, "{at}");
        assert_eq!(Tier::Critical.signal(s.tiers.tier()), Signal::Firing);
        assert_eq!(Tier::Warn.signal(s.tiers.tier()), Signal::Firing);
        // Critical alone at 90: not an emergency.
        let mut s = Seat::new(rules());
        s.hold(60.0, 5.0, None);
        assert_eq!(s.hold(90.0, 120.0, Some(Tier::Emergency)), None);
        assert_eq!(s.tiers.tier(), Some(Tier::Critical));
        // A warn clear level above critical's: warn does not clear while critical stands.
        let r = TierRules {
            warn: Levels {
                trip_c: 70.0,
                clear_c: 69.0,
            },
            critical: Levels {
                trip_c: 85.0,
                clear_c: 65.0,
            },
            ..rules()
        };
        let mut s = Seat::new(r);
        s.hold(60.0, 5.0, None);
        s.hold(90.0, 10.0, None);
        assert_eq!(s.hold(67.0, 120.0, Some(Tier::Warn)), None, "still critical");
        assert_eq!(s.tiers.tier(), Some(Tier::Critical));
        // Under both clear levels: both go, together.
        assert!(s.hold(60.0, 60.0, None).is_some());
    }

    #[test]
    fn a_restored_tier_clears_only_on_evidence_and_a_reset_forgets() {
        let mut s = Seat::new(rules());
        s.tiers.assume(Tier::Critical);
        assert_eq!(s.hold(84.5, 60.0, None), None, "inside the band: holds");
        // Under critical's clear level for the clear dwell: back to warn (tripped meanwhile).
        assert!(s.hold(75.0, 60.0, Some(Tier::Warn)).is_some());
        s.tiers.assume(Tier::Emergency);
        s.tiers.reset();
        assert_eq!(s.tiers.tier(), None);
    }

    #[test]
    fn a_zero_dwell_trips_on_the_median_alone() {
        let r = TierRules {
            dwell_ms: 0,
            ..rules()
        };
        let mut s = Seat::new(r);
        s.hold(60.0, 5.0, None);
        let at = s.hold(86.0, 5.0, Some(Tier::Critical)).expect("trips");
        assert!(at <= 1.0, "{at}");
        // And a single glitch still does not.
        let mut s = Seat::new(r);
        s.hold(60.0, 5.0, None);
        assert_eq!(s.sample(125.0), None);
        assert_eq!(s.hold(60.0, 5.0, Some(Tier::Warn)), None);
    }
}
