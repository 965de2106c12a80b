//! Sensor fault: can this seat's temperature be trusted at all? A faulty sensor is reported as
//! `sensor_fault` and its readings are kept away from the overheat detectors, so a broken sensor
//! is never reported as an overheat (nor hides one behind a made-up value).
//!
//! Three causes: the seat's own `SENSOR_FAULT` flag (its driver got a NACK or a bus error), a
//! reading outside what the TMP105 can report ([`SENSOR_MIN_C`] … [`SENSOR_MAX_C`], from the
//! firmware's driver, the one home of the sensor's datasheet figures), and a sensor stuck on one
//! value for [`STUCK_MS`] (a 12-bit TMP105 in a powered console flickers by at least one
//! resolution step within minutes; ten minutes of identical readings is a stuck register or a
//! frozen bus).

use hemiwatch_firmware::tmp105;

use super::{Sample, Signal};

/// Lowest temperature a TMP105 reports, °C ([`tmp105::MEASURABLE_MIN_C`]): below is a fault.
pub const SENSOR_MIN_C: f64 = tmp105::MEASURABLE_MIN_C as f64;
/// Highest temperature a TMP105 reports, °C ([`tmp105::MAX_C`]): above is a fault.
pub const SENSOR_MAX_C: f64 = tmp105::MAX_C as f64;
/// Identical readings for this long mean a stuck sensor.
pub const STUCK_MS: u64 = 600_000;
/// A fault clears after this long of trustworthy readings.
pub const CLEAR_MS: u64 = 30_000;

/// Why a sensor is not trusted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// The seat says so.
    Flagged,
    /// A reading outside the sensor's range.
    OutOfRange,
    /// The same reading for too long.
    Stuck,
}

impl Fault {
    /// A sentence for the alert summary.
    pub fn describe(self) -> &'static str {
        match self {
            Self::Flagged => "the seat reports its temperature sensor faulty",
            Self::OutOfRange => "the sensor reads outside what a TMP105 can measure",
            Self::Stuck => "the sensor has read the exact same value for 10 minutes",
        }
    }
}

/// The sensor detector's state for one seat.
#[derive(Clone, Debug, Default)]
pub struct Sensor {
    last_value: Option<f64>,
    same_since: Option<u64>,
    fault: Option<Fault>,
    good_since: Option<u64>,
}

impl Sensor {
    /// Judges a sample. Returns the signal and whether the sample's temperature may be used.
    pub fn update(&mut self, s: &Sample) -> (Signal, bool) {
        let flagged = s.flags & hemiwatch_protocol::Flags::SENSOR_FAULT != 0;
        let out_of_range = s
            .temp_c
            .is_some_and(|t| !(SENSOR_MIN_C..=SENSOR_MAX_C).contains(&t));
        if let Some(t) = s.temp_c.filter(|_| !out_of_range) {
            if self.last_value == Some(t) {
                self.same_since.get_or_insert(s.t_ms);
            } else {
                self.same_since = Some(s.t_ms);
                self.last_value = Some(t);
            }
        }
        let stuck = self
            .same_since
            .is_some_and(|since| s.t_ms.saturating_sub(since) >= STUCK_MS);
        let now_fault = if flagged {
            Some(Fault::Flagged)
        } else if out_of_range {
            Some(Fault::OutOfRange)
        } else if stuck {
            Some(Fault::Stuck)
        } else {
            None
        };
        match now_fault {
            Some(f) => {
                self.fault = Some(f);
                self.good_since = None;
            }
            None if self.fault.is_some()
                && s.t_ms.saturating_sub(*self.good_since.get_or_insert(s.t_ms)) >= CLEAR_MS =>
            {
                self.fault = None;
                self.good_since = None;
            }
            None => {}
        }
        let usable = s.temp_c.is_some() && !flagged && !out_of_range;
        if self.fault.is_some() {
            (Signal::Firing, usable && self.fault != Some(Fault::Stuck))
        } else {
            (Signal::Clear, usable)
        }
    }

    /// Assumes a fault (an alert restored after a restart): it clears after 30 s of
    /// trustworthy readings, like any other.
    pub fn assume_fault(&mut self, fault: Fault) {
        self.fault = Some(fault);
    }

    /// The current fault, if any.
    pub fn fault(&self) -> Option<Fault> {
        self.fault
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t_ms: u64, temp: f64, flags: u8) -> Sample {
        Sample {
            t_ms,
            temp_c: Some(temp),
            flags,
        }
    }

    #[test]
    fn the_seat_flag_and_out_of_range_are_faults_and_their_values_unusable() {
        let mut s = Sensor::default();
        assert_eq!(s.update(&sample(0, 40.0, 0)), (Signal::Clear, true));
        assert_eq!(
            s.update(&sample(500, 40.0, hemiwatch_protocol::Flags::SENSOR_FAULT)),
            (Signal::Firing, false)
        );
        assert_eq!(s.fault(), Some(Fault::Flagged));
        assert_eq!(s.update(&sample(1_000, 150.0, 0)), (Signal::Firing, false));
        assert_eq!(s.fault(), Some(Fault::OutOfRange));
        // Good again, but the fault holds for 30 s.
        let (sig, usable) = s.update(&sample(1_500, 40.1, 0));
        assert_eq!((sig, usable), (Signal::Firing, true));
        let mut t = 1_500;
        let mut sig = Signal::Firing;
        while sig == Signal::Firing {
            t += 500;
            sig = s
                .update(&sample(t, 40.0 + (t % 3) as f64 * tmp105::RESOLUTION_C, 0))
                .0;
        }
        assert!(t - 1_500 >= CLEAR_MS);
    }

    #[test]
    fn ten_minutes_of_identical_readings_is_a_stuck_sensor() {
        let mut s = Sensor::default();
        let mut t = 0;
        while t < STUCK_MS {
            assert_eq!(s.update(&sample(t, 41.5, 0)).0, Signal::Clear, "at {t} ms");
            t += 500;
        }
        assert_eq!(s.update(&sample(t, 41.5, 0)), (Signal::Firing, false));
        assert_eq!(s.fault(), Some(Fault::Stuck));
    }
}
