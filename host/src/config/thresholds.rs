//! Thresholds: `[thresholds]` → `[board.<kind>]` → `[[seat]]`, each layer optional and laid on
//! the one before, then the defaults. Each layer's values are range-checked where they are
//! written, and warn < critical is checked on the merged result, so the error points at the
//! layer that broke it.

use std::time::Duration;

use serde::Deserialize;
use serde_spanned::Spanned;

use super::defaults::{DEFAULT_CRITICAL_C, DEFAULT_HORIZON, DEFAULT_PERIOD_MS, DEFAULT_WARN_C};
use super::limits::{MAX_PERIOD_MS, MIN_PERIOD_MS, SENSOR_MAX_C, SENSOR_MIN_C};
use super::resolve::Resolver;
use super::schema::HumanDuration;

/// `[thresholds]` and `[board.<kind>]`: every field optional, layered global → board → seat.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Thresholds {
    /// °C at which a seat shows as warm.
    pub warn_c: Option<Spanned<f64>>,
    /// °C the seat must not reach; the prediction aims at it.
    pub critical_c: Option<Spanned<f64>>,
    /// How far ahead a predicted crossing of critical raises the alert.
    pub horizon: Option<Spanned<HumanDuration>>,
    /// Expected telemetry period (i64 so that a negative value gets a range sentence).
    pub telemetry_period_ms: Option<Spanned<i64>>,
}

/// The thresholds a seat runs with: every layer applied, then the defaults.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Effective {
    /// Warn threshold, °C.
    pub warn_c: f64,
    /// Critical threshold, °C.
    pub critical_c: f64,
    /// Prediction horizon.
    pub horizon: Duration,
    /// Telemetry period, ms, within the accepted range.
    pub period_ms: u64,
}

impl Thresholds {
    /// True if this layer sets anything (then its combination is checked at its place).
    pub fn is_set(&self) -> bool {
        self.warn_c.is_some()
            || self.critical_c.is_some()
            || self.horizon.is_some()
            || self.telemetry_period_ms.is_some()
    }

    /// `self` with the values of `over` on top.
    pub fn overlay(&self, over: &Thresholds) -> Thresholds {
        Thresholds {
            warn_c: over.warn_c.clone().or_else(|| self.warn_c.clone()),
            critical_c: over.critical_c.clone().or_else(|| self.critical_c.clone()),
            horizon: over.horizon.clone().or_else(|| self.horizon.clone()),
            telemetry_period_ms: over
                .telemetry_period_ms
                .clone()
                .or_else(|| self.telemetry_period_ms.clone()),
        }
    }

    /// The values in force: this (merged) layer's, else the defaults.
    pub fn effective(&self) -> Effective {
        Effective {
            warn_c: self
                .warn_c
                .as_ref()
                .map(|v| *v.get_ref())
                .unwrap_or(DEFAULT_WARN_C),
            critical_c: self
                .critical_c
                .as_ref()
                .map(|v| *v.get_ref())
                .unwrap_or(DEFAULT_CRITICAL_C),
            horizon: self
                .horizon
                .as_ref()
                .map(|v| v.get_ref().0)
                .unwrap_or(DEFAULT_HORIZON),
            period_ms: self
                .telemetry_period_ms
                .as_ref()
                .map(|v| *v.get_ref())
                .unwrap_or(DEFAULT_PERIOD_MS)
                .clamp(MIN_PERIOD_MS, MAX_PERIOD_MS) as u64,
        }
    }
}

impl Resolver<'_> {
    /// Range checks of the values a layer sets, and warn < critical once merged. `what` names
    /// the layer in messages (`""`, `" in [board.simulated]"`, `" for seat 12"`).
    pub(super) fn check_layer(&mut self, merged: &Thresholds, own: &Thresholds, what: &str) {
        for (name, v) in [("warn_c", &own.warn_c), ("critical_c", &own.critical_c)] {
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
        let Effective {
            warn_c: warn,
            critical_c: crit,
            ..
        } = merged.effective();
        // NaN compares false: `!(warn < crit)` rejects it too.
        #[allow(clippy::neg_cmp_op_on_partial_ord)]
        let bad = !(warn < crit);
        if bad {
            if let Some(span) = own.warn_c.as_ref().or(own.critical_c.as_ref()).map(|v| v.span()) {
                self.err(
                    span,
                    format!("warn_c {warn} must be below critical_c {crit}{what}"),
                );
            }
        }
    }
}
