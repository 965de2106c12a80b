//! Thresholds: `[thresholds]` → `[board.<kind>]` → `[[seat]]`, each layer optional and laid on
//! the one before, then the defaults. Each layer's values are range-checked where they are
//! written, and the order of the levels (warn < critical < emergency, each clear level under its
//! trip level) is checked on the merged result, so the error points at the layer that broke it.
//!
//! The temperature tiers ([`crate::detect::tier`]) and the names hardware managers give them:
//!
//! | keys                                | IPMI threshold        | hwmon                                  | Redfish         |
//! |-------------------------------------|-----------------------|----------------------------------------|-----------------|
//! | `warn_c`, `warn_clear_c`            | upper non-critical    | `tempN_max`, `tempN_max_hyst`          | `UpperCaution`  |
//! | `critical_c`, `critical_clear_c`    | upper critical        | `tempN_crit`, `tempN_crit_hyst`        | `UpperCritical` |
//! | `emergency_c`, `emergency_clear_c`  | upper non-recoverable | `tempN_emergency`, `tempN_emergency_hyst` | `UpperFatal` |
//! | `dwell`, `clear_dwell`              | assertion filtering   | (none; the chip's own fault queue)     | (none)          |
//!
//! A clear level is an absolute temperature, as hwmon's `_hyst` files are; left out, it is the
//! level in force minus [`DEFAULT_HYSTERESIS_C`](super::defaults::DEFAULT_HYSTERESIS_C), and
//! `emergency_c` left out is critical plus [`DEFAULT_EMERGENCY_MARGIN_C`] (at most the TMP105's
//! 125 °C): a layer that moves a level moves what derives from it, while a clear level set
//! explicitly stays where it was set.

use std::time::Duration;

use serde::Deserialize;
use serde_spanned::Spanned;

use super::defaults::{
    default_clear_c, default_emergency_c, DEFAULT_CLEAR_DWELL, DEFAULT_CRITICAL_C, DEFAULT_DWELL,
    DEFAULT_EMERGENCY_MARGIN_C, DEFAULT_HORIZON, DEFAULT_PERIOD_MS, DEFAULT_WARN_C,
};
use super::limits::{MAX_CLEAR_DWELL, MAX_DWELL, MAX_PERIOD_MS, MIN_PERIOD_MS, SENSOR_MAX_C, SENSOR_MIN_C};
use super::resolve::Resolver;
use super::schema::HumanDuration;
use crate::detect::tier::{Levels, Tier, TierRules};

/// `[thresholds]` and `[board.<kind>]`: every field optional, layered global → board → seat.
/// (The order of the fields is the order "expected one of" lists them in.)
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Thresholds {
    /// °C at which the warn tier trips (the seat shows as warm).
    pub warn_c: Option<Spanned<f64>>,
    /// °C at which the critical tier trips (`overheat`, failover); the prediction aims at it.
    pub critical_c: Option<Spanned<f64>>,
    /// °C at which the emergency tier trips (`overheat_emergency`).
    pub emergency_c: Option<Spanned<f64>>,
    /// °C at or under which the warn tier clears.
    pub warn_clear_c: Option<Spanned<f64>>,
    /// °C at or under which the critical tier clears.
    pub critical_clear_c: Option<Spanned<f64>>,
    /// °C at or under which the emergency tier clears.
    pub emergency_clear_c: Option<Spanned<f64>>,
    /// How long a level must hold before a tier trips.
    pub dwell: Option<Spanned<HumanDuration>>,
    /// How long a level must hold before a tier clears.
    pub clear_dwell: Option<Spanned<HumanDuration>>,
    /// How far ahead a predicted crossing of critical raises the alert.
    pub horizon: Option<Spanned<HumanDuration>>,
    /// Expected telemetry period (i64 so that a negative value gets a range sentence).
    pub telemetry_period_ms: Option<Spanned<i64>>,
}

/// The thresholds a seat runs with: every layer applied, then the defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Effective {
    /// The temperature tiers: levels, clear levels, dwells.
    pub tiers: TierRules,
    /// Prediction horizon.
    pub horizon: Duration,
    /// Telemetry period, ms, within the accepted range.
    pub period_ms: u64,
}

/// The value of a layered key, if some layer set it.
fn value<T: Copy>(v: &Option<Spanned<T>>) -> Option<T> {
    v.as_ref().map(|v| *v.get_ref())
}

impl Thresholds {
    /// True if this layer sets anything (then its combination is checked at its place).
    pub fn is_set(&self) -> bool {
        self.warn_c.is_some()
            || self.critical_c.is_some()
            || self.emergency_c.is_some()
            || self.warn_clear_c.is_some()
            || self.critical_clear_c.is_some()
            || self.emergency_clear_c.is_some()
            || self.dwell.is_some()
            || self.clear_dwell.is_some()
            || self.horizon.is_some()
            || self.telemetry_period_ms.is_some()
    }

    /// `self` with the values of `over` on top.
    pub fn overlay(&self, over: &Thresholds) -> Thresholds {
        fn pick<T: Clone>(over: &Option<T>, under: &Option<T>) -> Option<T> {
            over.clone().or_else(|| under.clone())
        }
        Thresholds {
            warn_c: pick(&over.warn_c, &self.warn_c),
            critical_c: pick(&over.critical_c, &self.critical_c),
            emergency_c: pick(&over.emergency_c, &self.emergency_c),
            warn_clear_c: pick(&over.warn_clear_c, &self.warn_clear_c),
            critical_clear_c: pick(&over.critical_clear_c, &self.critical_clear_c),
            emergency_clear_c: pick(&over.emergency_clear_c, &self.emergency_clear_c),
            dwell: pick(&over.dwell, &self.dwell),
            clear_dwell: pick(&over.clear_dwell, &self.clear_dwell),
            horizon: pick(&over.horizon, &self.horizon),
            telemetry_period_ms: pick(&over.telemetry_period_ms, &self.telemetry_period_ms),
        }
    }

    /// The values in force: this (merged) layer's, else the defaults (a clear level left out is
    /// derived from the level in force, the emergency level from critical).
    pub fn effective(&self) -> Effective {
        let warn_c = value(&self.warn_c).unwrap_or(DEFAULT_WARN_C);
        let critical_c = value(&self.critical_c).unwrap_or(DEFAULT_CRITICAL_C);
        let emergency_c = value(&self.emergency_c).unwrap_or_else(|| default_emergency_c(critical_c));
        let levels = |trip_c: f64, clear: &Option<Spanned<f64>>| Levels {
            trip_c,
            clear_c: value(clear).unwrap_or_else(|| default_clear_c(trip_c)),
        };
        let duration = |d: &Option<Spanned<HumanDuration>>, default: Duration| {
            d.as_ref().map(|d| d.get_ref().0).unwrap_or(default)
        };
        Effective {
            tiers: TierRules {
                warn: levels(warn_c, &self.warn_clear_c),
                critical: levels(critical_c, &self.critical_clear_c),
                emergency: levels(emergency_c, &self.emergency_clear_c),
                dwell_ms: duration(&self.dwell, DEFAULT_DWELL).as_millis() as u64,
                clear_dwell_ms: duration(&self.clear_dwell, DEFAULT_CLEAR_DWELL).as_millis() as u64,
            },
            horizon: duration(&self.horizon, DEFAULT_HORIZON),
            period_ms: value(&self.telemetry_period_ms)
                .unwrap_or(DEFAULT_PERIOD_MS)
                .clamp(MIN_PERIOD_MS, MAX_PERIOD_MS) as u64,
        }
    }

    /// A tier's trip and clear keys in this layer.
    fn keys(&self, tier: Tier) -> (&Option<Spanned<f64>>, &Option<Spanned<f64>>) {
        match tier {
            Tier::Warn => (&self.warn_c, &self.warn_clear_c),
            Tier::Critical => (&self.critical_c, &self.critical_clear_c),
            Tier::Emergency => (&self.emergency_c, &self.emergency_clear_c),
        }
    }
}

impl Resolver<'_> {
    /// Range checks of the values a layer sets, and the order of the levels once merged. `what`
    /// names the layer in messages (`""`, `" in [board.simulated]"`, `" for seat 12"`).
    pub(super) fn check_layer(&mut self, merged: &Thresholds, own: &Thresholds, what: &str) {
        for tier in Tier::ALL {
            let (trip, clear) = own.keys(tier);
            let names = [format!("{}_c", tier.name()), format!("{}_clear_c", tier.name())];
            for (name, v) in names.iter().zip([trip, clear]) {
                if let Some(v) = v {
                    let c = *v.get_ref();
                    if !(SENSOR_MIN_C..=SENSOR_MAX_C).contains(&c) {
                        self.err(
                            v.span(),
                            format!(
                                "{name} {c}{what} is outside what the TMP105 sensor measures ({SENSOR_MIN_C} to {SENSOR_MAX_C} °C)"
                            ),
                        );
                    }
                }
            }
        }
        for (name, d, max) in [
            ("dwell", &own.dwell, MAX_DWELL),
            ("clear_dwell", &own.clear_dwell, MAX_CLEAR_DWELL),
        ] {
            if let Some(d) = d {
                let v = d.get_ref().0;
                if v > max {
                    self.err(
                        d.span(),
                        format!(
                            "{name} {}{what} must be at most {}",
                            humantime::format_duration(v),
                            humantime::format_duration(max)
                        ),
                    );
                }
            }
        }
        if let Some(h) = &own.horizon {
            let d = h.get_ref().0;
            if d < Duration::from_secs(1) || d > Duration::from_secs(3600) {
                self.err(
                    h.span(),
                    format!(
                        "horizon {}{what} must be between 1s and 1h",
                        humantime::format_duration(d)
                    ),
                );
            }
        }
        if let Some(p) = &own.telemetry_period_ms {
            let v = *p.get_ref();
            if !(MIN_PERIOD_MS..=MAX_PERIOD_MS).contains(&v) {
                self.err(
                    p.span(),
                    format!(
                        "telemetry_period_ms {v}{what} must be between {MIN_PERIOD_MS} and {MAX_PERIOD_MS}"
                    ),
                );
            }
        }
        self.check_order(merged, own, what);
    }

    /// warn < critical < emergency, and each clear level under its trip level, on the merged
    /// values; reported at this layer's key when this layer sets one of the two compared (a
    /// layer that sets neither inherits a pair already checked where it was set).
    fn check_order(&mut self, merged: &Thresholds, own: &Thresholds, what: &str) {
        let t = merged.effective().tiers;
        let emergency_derived = if merged.emergency_c.is_none() {
            format!(
                " (left out, emergency_c is critical_c + {DEFAULT_EMERGENCY_MARGIN_C} °C, at most {SENSOR_MAX_C} °C)"
            )
        } else {
            String::new()
        };
        let pairs = [
            (Tier::Warn, Tier::Critical, String::new()),
            (Tier::Critical, Tier::Emergency, emergency_derived),
        ];
        // A value outside the sensor's range (or NaN) was reported where it was set; comparing
        // it too would only repeat that.
        let readable = |c: f64| (SENSOR_MIN_C..=SENSOR_MAX_C).contains(&c);
        for (low, high, note) in pairs {
            let (a, b) = (t.levels(low).trip_c, t.levels(high).trip_c);
            #[allow(clippy::neg_cmp_op_on_partial_ord)]
            let bad = readable(a) && readable(b) && !(a < b);
            if bad {
                if let Some(span) = own
                    .keys(low)
                    .0
                    .as_ref()
                    .or(own.keys(high).0.as_ref())
                    .map(|v| v.span())
                {
                    self.err(
                        span,
                        format!(
                            "{}_c {a} must be below {}_c {b}{what}{note}",
                            low.name(),
                            high.name()
                        ),
                    );
                }
            }
        }
        for tier in Tier::ALL {
            let Levels { trip_c, clear_c } = t.levels(tier);
            #[allow(clippy::neg_cmp_op_on_partial_ord)]
            let bad = readable(trip_c) && readable(clear_c) && !(clear_c < trip_c);
            let (trip, clear) = own.keys(tier);
            if bad {
                if let Some(span) = clear.as_ref().or(trip.as_ref()).map(|v| v.span()) {
                    let name = tier.name();
                    self.err(
                        span,
                        format!(
                            "{name}_clear_c {clear_c} must be below {name}_c {trip_c}{what}: a tier clears under the level it trips at"
                        ),
                    );
                }
            }
        }
    }
}
