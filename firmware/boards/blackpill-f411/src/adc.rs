//! The STM32F411's own analog sensors, read once a second for the telemetry: VDDA (from VREFINT,
//! ADC1 channel 17, and its factory calibration) as `supply_mv`, and the die temperature (ADC1
//! channel 18, TSVREFE) as the second temperature channel. The arithmetic and the datasheet
//! constants are the core's (`hemiwatch_firmware::analog`); this file only drives ADC1.
//!
//! Register-level, because the HAL's `Adc::convert` waits for end of conversion without a limit;
//! here every wait is bounded and a conversion that never ends is an error (no reading, never a
//! made-up one). Registers from RM0383 §11.12 "ADC registers" (ADC1 at 0x4001_2000, the common
//! block at 0x4001_2300).

use core::ptr::{read_volatile, write_volatile};

use hemiwatch_firmware::analog::{self, TsCal};
use hemiwatch_firmware::seat::BoardReadings;
use stm32f4xx_hal::adc::Adc;
use stm32f4xx_hal::pac;

const ADC1: usize = 0x4001_2000;
const SR: usize = ADC1;
const CR2: usize = ADC1 + 0x08;
const SMPR1: usize = ADC1 + 0x0C;
const SQR1: usize = ADC1 + 0x2C;
const SQR3: usize = ADC1 + 0x34;
const DR: usize = ADC1 + 0x4C;
/// ADC common control register (RM0383 §11.12.16 "ADC common control register (ADC_CCR)").
const CCR: usize = 0x4001_2304;

const SR_EOC: u32 = 1 << 1;
const CR2_ADON: u32 = 1 << 0;
const CR2_SWSTART: u32 = 1 << 30;
/// ADCPRE = 01: PCLK2 / 4 = 24 MHz at the board's 96 MHz, within the ADC's 36 MHz maximum
/// (DS10314 "ADC characteristics", f_ADC).
const CCR_ADCPRE_DIV4: u32 = 0b01 << 16;
const CCR_ADCPRE_MASK: u32 = 0b11 << 16;
/// VBATE shares channel 18 with the temperature sensor and must be off (RM0383 §11.10).
const CCR_VBATE: u32 = 1 << 22;
const CCR_TSVREFE: u32 = 1 << 23;

/// VREFINT and the temperature sensor.
const CH_VREFINT: u32 = 17;
const CH_TEMP: u32 = 18;
/// 480 cycles (SMP = 0b111): 20 µs at 24 MHz, over the sensor's minimum sampling time of 10 µs
/// (DS10314 "Temperature sensor characteristics", T_S_temp) and VREFINT's (T_S_vrefint).
const SMP_480: u32 = 0b111;

/// Polls of EOC before a conversion counts as failed: a conversion takes (480 + 12) ADC clocks
/// = 20.5 µs, about 2 000 core cycles; a poll is at least 4 cycles, so 20 000 polls are ≥ 40×.
const EOC_SPINS: u32 = 20_000;

/// How often the readings are refreshed, ms: the die and the supply change slowly, and the
/// telemetry period is 1 s by default.
const PERIOD_MS: u32 = 1_000;

/// VREFINT_CAL (DS10314 "Internal reference voltage calibration values"); TS_CAL1/TS_CAL2 as
/// `stm32f4xx-hal` reads them (see `hemiwatch_firmware::analog` for what is known of them).
const VREFINT_CAL: usize = 0x1FFF_7A2A;
const TS_CAL1: usize = 0x1FFF_7A2C;
const TS_CAL2: usize = 0x1FFF_7A2E;

fn rd(addr: usize) -> u32 {
    // SAFETY: only the ADC1 registers above, always mapped once its clock is on.
    unsafe { read_volatile(addr as *const u32) }
}

fn wr(addr: usize, v: u32) {
    // SAFETY: as for `rd`.
    unsafe { write_volatile(addr as *mut u32, v) }
}

fn rd16(addr: usize) -> u16 {
    // SAFETY: the factory calibration words in system memory, always mapped and read-only.
    unsafe { read_volatile(addr as *const u16) }
}

/// ADC1, owned by this module once the boot id has been drawn from its noise.
pub struct Analog {
    /// The HAL's handle, kept as the proof that nothing else converts on ADC1.
    _adc: Adc<pac::ADC1>,
    last: Option<u32>,
}

impl Analog {
    /// Configures ADC1 for the internal channels (its bus clock is on: `Adc::new` enabled it).
    pub fn new(adc: Adc<pac::ADC1>) -> Self {
        wr(
            CCR,
            (rd(CCR) & !(CCR_ADCPRE_MASK | CCR_VBATE)) | CCR_ADCPRE_DIV4 | CCR_TSVREFE,
        );
        let smp = SMP_480 << (3 * (CH_VREFINT - 10)) | SMP_480 << (3 * (CH_TEMP - 10));
        wr(SMPR1, rd(SMPR1) | smp);
        wr(SQR1, 0); // one conversion in the sequence
        wr(CR2, CR2_ADON);
        Self {
            _adc: adc,
            last: None,
        }
    }

    /// One conversion of `channel`, or `None` when EOC never came.
    fn convert(channel: u32) -> Option<u16> {
        wr(SQR3, channel);
        wr(CR2, CR2_ADON | CR2_SWSTART);
        for _ in 0..EOC_SPINS {
            if rd(SR) & SR_EOC != 0 {
                return Some((rd(DR) & 0xFFF) as u16); // reading DR clears EOC
            }
        }
        None
    }

    /// Both readings now: VDDA first, since the temperature's conversion to volts needs it.
    pub fn read(&mut self) -> BoardReadings {
        let supply_mv = Self::convert(CH_VREFINT).and_then(|raw| analog::vdda_mv(rd16(VREFINT_CAL), raw));
        let cal = TsCal {
            at_30: rd16(TS_CAL1),
            at_110: rd16(TS_CAL2),
        };
        let die_centi = supply_mv
            .zip(Self::convert(CH_TEMP))
            .and_then(|(vdda, raw)| analog::die_centi(raw, vdda, Some(cal)));
        BoardReadings { die_centi, supply_mv }
    }

    /// The readings when [`PERIOD_MS`] has passed since the last ones (or at the first call).
    pub fn due(&mut self, now_ms: u32) -> Option<BoardReadings> {
        if self.last.is_some_and(|t| now_ms.wrapping_sub(t) < PERIOD_MS) {
            return None;
        }
        self.last = Some(now_ms);
        Some(self.read())
    }
}
