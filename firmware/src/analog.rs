//! The seat MCU's own analog sensors, as numbers the telemetry can carry: the supply (VDDA, from
//! the internal voltage reference and its factory calibration) and the die temperature.
//!
//! The arithmetic lives here, board-independent and host-tested; a board reads its ADC (the Black
//! Pill: `boards/blackpill-f411/src/adc.rs`) and hands the raw conversions to these functions.
//! Constants are the STM32F411's (datasheet DS10314, cited as "DS"; reference manual RM0383):
//!
//! - VDDA: the ADC converts against VDDA, so a conversion of the fixed internal reference
//!   (VREFINT, ADC1 channel 17) measures VDDA: VDDA = 3.3 V × VREFINT_CAL / VREFINT_DATA, where
//!   VREFINT_CAL is the factory's conversion of VREFINT at VDDA = 3.3 V and 30 °C, a u16 at
//!   `0x1FFF_7A2A` (DS "Internal reference voltage calibration values"; RM0383 §11.9).
//! - Die temperature (ADC1 channel 18, enabled with TSVREFE; RM0383 §11.10): from the datasheet's
//!   typical line, V25 = 0.76 V at 25 °C and Avg_Slope = 2.5 mV/°C (DS "Temperature sensor
//!   characteristics"). RM0383 §11.10 warns that the line's offset "varies from chip to chip due
//!   to process variation (up to 45 °C from one chip to another)": uncalibrated, the channel is
//!   good for the *change* of the die's temperature (±1–2 °C linearity), not its absolute value.
//!   Two-point factory values TS_CAL1 (30 °C) / TS_CAL2 (110 °C) at `0x1FFF_7A2C` / `0x1FFF_7A2E`
//!   are what `stm32f4xx-hal`'s `signature` module reads on every F4; whether the F411's
//!   datasheet guarantees them could not be checked here, so they are used only when both look
//!   like conversions of the sensor (see [`TsCal::plausible`]), and the typical line otherwise.

/// VDDA at which the factory calibration values were taken, mV (DS, calibration tables).
pub const CAL_VDDA_MV: u32 = 3_300;

/// Full scale of the 12-bit ADC.
const FULL_SCALE: u32 = 4_095;

/// Plausible VREFINT_CAL values: VREFINT is 1.18–1.24 V (DS "Embedded internal reference
/// voltage"), i.e. 1464–1539 counts at 3.3 V; anything far outside is not a calibration (erased
/// 0xFFFF, a wrong address).
const VREFINT_CAL_RANGE: core::ops::RangeInclusive<u16> = 1_400..=1_600;

/// Typical sensor voltage at 25 °C, µV (DS "Temperature sensor characteristics", V25).
const V25_UV: i64 = 760_000;
/// Typical slope, µV per centi-°C: 2.5 mV/°C (DS, Avg_Slope).
const SLOPE_UV_PER_CENTI: i64 = 25;

/// VDDA in mV from a conversion of VREFINT and the factory's `vrefint_cal`; `None` for an
/// implausible calibration or a zero conversion (the ADC or the reference is broken — no made-up
/// value).
pub fn vdda_mv(vrefint_cal: u16, vrefint_raw: u16) -> Option<u16> {
    if vrefint_raw == 0 || !VREFINT_CAL_RANGE.contains(&vrefint_cal) {
        return None;
    }
    let mv = (CAL_VDDA_MV * u32::from(vrefint_cal) + u32::from(vrefint_raw) / 2) / u32::from(vrefint_raw);
    u16::try_from(mv).ok()
}

/// The factory's two-point calibration of the temperature sensor (raw conversions at 3.3 V).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct TsCal {
    /// At 30 °C.
    pub at_30: u16,
    /// At 110 °C.
    pub at_110: u16,
}

impl TsCal {
    /// Whether both values look like conversions of the sensor at 3.3 V: the typical line gives
    /// 959 counts at 30 °C and 1207 at 110 °C (a difference of 248); a chip's offset may shift
    /// both by up to 45 °C (140 counts), its slope is within a few per cent. Erased memory
    /// (0xFFFF) or values from another part fail.
    pub fn plausible(&self) -> bool {
        (700..=1_250).contains(&self.at_30) && (180..=320).contains(&self.at_110.wrapping_sub(self.at_30))
    }
}

/// The die temperature in centi-°C from a conversion of the sensor taken with VDDA at `vdda_mv`:
/// with the factory's two points when `cal` is given and plausible, else the typical line (an
/// absolute error of up to ~45 °C, see the module docs). `None` when the result is outside what
/// the sensor can report (−40…125 °C, the part's range) — an ADC fault, not a temperature.
pub fn die_centi(raw: u16, vdda_mv: u16, cal: Option<TsCal>) -> Option<i16> {
    let raw = i64::from(raw);
    let vdda = i64::from(vdda_mv);
    let centi = match cal.filter(TsCal::plausible) {
        Some(c) => {
            // raw scaled to the calibration's 3.3 V: raw × VDDA / 3300.
            let num = raw * vdda - i64::from(c.at_30) * i64::from(CAL_VDDA_MV);
            let den = i64::from(c.at_110 - c.at_30) * i64::from(CAL_VDDA_MV);
            3_000 + div_round(8_000 * num, den)
        }
        None => {
            let uv = div_round(raw * vdda * 1_000, i64::from(FULL_SCALE));
            2_500 + div_round(uv - V25_UV, SLOPE_UV_PER_CENTI)
        }
    };
    (-4_000..=12_500).contains(&centi).then_some(centi as i16)
}

/// Integer division rounding halves away from zero (`den` > 0).
fn div_round(num: i64, den: i64) -> i64 {
    if num >= 0 {
        (num + den / 2) / den
    } else {
        (num - den / 2) / den
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vdda_is_3v3_when_the_reference_converts_as_at_the_factory_and_scales_inversely() {
        assert_eq!(vdda_mv(1_500, 1_500), Some(3_300));
        // A lower supply makes the fixed reference a larger fraction of full scale.
        assert_eq!(vdda_mv(1_500, 1_650), Some(3_000));
        assert_eq!(vdda_mv(1_500, 1_375), Some(3_600));
    }

    #[test]
    fn no_supply_figure_from_an_erased_calibration_or_a_dead_adc() {
        assert_eq!(vdda_mv(0xFFFF, 1_500), None);
        assert_eq!(vdda_mv(0, 1_500), None);
        assert_eq!(vdda_mv(1_500, 0), None);
    }

    #[test]
    fn the_typical_line_gives_25_degrees_at_v25_and_2_5_mv_per_degree() {
        // 0.76 V at 3.3 V: 0.76 / 3.3 × 4095 = 943.09 counts → 943 (−0.1 °C of quantisation).
        assert_eq!(die_centi(943, 3_300, None), Some(2_497));
        // +10 °C = +25 mV = +31.0 counts.
        assert_eq!(die_centi(974, 3_300, None), Some(3_496));
        // The same voltage read with VDDA at 3.0 V is more counts.
        assert_eq!(die_centi(1_037, 3_000, None), Some(2_488));
    }

    #[test]
    fn a_plausible_factory_calibration_is_used_and_an_erased_one_is_not() {
        let cal = TsCal {
            at_30: 1_000,
            at_110: 1_250,
        };
        assert_eq!(die_centi(1_000, 3_300, Some(cal)), Some(3_000));
        assert_eq!(die_centi(1_250, 3_300, Some(cal)), Some(11_000));
        assert_eq!(die_centi(1_125, 3_300, Some(cal)), Some(7_000));
        // Read at 3.0 V the same voltage is 1100 counts.
        assert_eq!(die_centi(1_100, 3_000, Some(cal)), Some(3_000));
        let erased = TsCal {
            at_30: 0xFFFF,
            at_110: 0xFFFF,
        };
        assert!(!erased.plausible());
        assert_eq!(die_centi(943, 3_300, Some(erased)), die_centi(943, 3_300, None));
    }

    #[test]
    fn a_conversion_outside_the_parts_range_is_no_temperature() {
        assert_eq!(die_centi(0, 3_300, None), None);
        assert_eq!(die_centi(4_095, 3_300, None), None);
    }
}
