//! Driver for the TI TMP105 (and LM75-register-compatible parts) over embedded-hal 1.0 [`I2c`].
//!
//! Why our own driver: the maintained crates of this family (`lm75` 1.0, `tmp1x2` 1.1) read a
//! register with `write_read`, i.e. a repeated START, which QEMU's Stellaris I2C model (the CI
//! rig) cannot do, and `lm75` returns `f32` at 9/11-bit resolution only. This driver reads with a
//! pointer write and a *separate* read transaction (what every LM75-class part accepts: the
//! pointer register keeps its value between transactions, "Serial Interface" and "Pointer
//! Register"), runs the part at 12 bits, and returns integer centi-°C or an error — never a
//! made-up value.
//!
//! Every section and table named in this crate is from the one TMP105 datasheet, TI **SLLS648**
//! (revision D, September 2011). This module is also the one home of the sensor's range and
//! resolution ([`SPECIFIED_MIN_C`], [`MEASURABLE_MIN_C`], [`MAX_C`], [`RESOLUTION_C`]): the seat's
//! accepted trip thresholds, the host's sensor-fault detector, its config checks and its
//! simulator all use these.
//!
//! Register map ("Pointer Register", "Temperature Register", "Configuration Register"):
//! - pointer `0x00`: temperature, 16 bits, big-endian, 12-bit two's complement left-justified
//!   (bits 15..4), 1 LSB = 0.0625 °C at 12-bit resolution;
//! - pointer `0x01`: configuration, 8 bits: SD (bit 0), TM (1), POL (2), F1F0 (4..3), R1R0
//!   (6..5: `00` = 9 bits … `11` = 12 bits), OS (7).
//!
//! At 12 bits a conversion takes 220 ms typical ("Converter Resolution (R1/R0)"):
//! a shorter sampling period reads the same conversion twice (harmless; QEMU's model converts
//! instantly, which is why the HIL tests may run at 100 ms).

use embedded_hal::i2c::I2c;

/// Bottom of the range over which the TMP105's accuracy is specified, °C (−40 … +125 °C,
/// "Electrical Characteristics"). A configured threshold must lie in the specified range: below
/// it the reading is not trustworthy enough to act on.
pub const SPECIFIED_MIN_C: i16 = -40;
/// Bottom of what the TMP105 can report, °C: its data format goes down to −55 °C (Table 5,
/// "Temperature Data Format"). A reading below is not a temperature but a faulty sensor or bus.
pub const MEASURABLE_MIN_C: i16 = -55;
/// Top of both the specified and the measurable range, °C.
pub const MAX_C: i16 = 125;
/// One LSB of the temperature register at 12-bit resolution: 1/16 °C (Table 5).
pub const RESOLUTION_C: f64 = 1.0 / LSB_PER_C as f64;
/// LSBs per °C at 12-bit resolution (the register counts sixteenths of a degree).
pub const LSB_PER_C: i16 = 16;

/// The TMP105's default 7-bit address with A0 tied low ("Serial Bus Address");
/// QEMU's `-device tmp105,address=0x48` uses the same.
pub const DEFAULT_ADDRESS: u8 = 0x48;

/// Pointer value of the temperature register ("Pointer Register").
const REG_TEMPERATURE: u8 = 0x00;
/// Pointer value of the configuration register ("Pointer Register").
const REG_CONFIG: u8 = 0x01;
/// Pointer values of the T_LOW and T_HIGH limit registers ("Pointer Register"; "High- and
/// Low-Limit Registers": the temperature register's 12-bit left-justified format).
const REG_T_LOW: u8 = 0x02;
const REG_T_HIGH: u8 = 0x03;
/// Configuration byte: R1R0 = 11 (12-bit, 0.0625 °C), continuous conversion, comparator mode
/// (TM = 0), active-low ALERT (POL = 0), one fault ("Configuration Register").
const CONFIG_12_BIT: u8 = 0b0110_0000;
/// Shift of the fault-queue field F1F0 in the configuration byte ("Fault Queue (F1/F0)": 1, 2,
/// 4 or 6 consecutive faults before ALERT changes).
const FAULT_QUEUE_SHIFT: u8 = 3;

/// Worst-case 12-bit conversion time, ms ("Electrical Characteristics", conversion time at
/// 12 bits: 220 ms typical, 600 ms maximum). Until the first conversion after power-up (or a
/// reconfiguration) completes, the temperature register holds its reset value, 0 °C; and a
/// sensor read more often than this returns the same conversion again.
pub const CONVERSION_MAX_MS: u32 = 600;

/// Why a reading failed: the sensor is missing, not answering, or the bus is stuck.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Error<E> {
    /// The I2C bus reported an error (NACK on the address = no sensor, arbitration, timeout).
    Bus(E),
    /// The configuration read back differs from what was written: not a TMP105-class part, or
    /// a corrupted bus; its readings would be at an unknown resolution.
    Config(u8),
}

impl<E: embedded_hal::i2c::Error> Error<E> {
    /// The failure in a few words, for the log. A seat logs this rather than the bus error's
    /// `Debug` text: `core::fmt` would cost about 2 KiB of the QEMU board's 32 KiB flash.
    pub fn describe(&self) -> &'static str {
        use embedded_hal::i2c::{ErrorKind, NoAcknowledgeSource};
        match self {
            Self::Config(_) => "configuration read back differs (not a TMP105-class part?)",
            Self::Bus(e) => match e.kind() {
                ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address) => "no sensor answers",
                ErrorKind::NoAcknowledge(_) => "sensor did not acknowledge",
                ErrorKind::ArbitrationLoss => "bus arbitration lost",
                ErrorKind::Bus => "bus error (stuck line?)",
                ErrorKind::Overrun => "bus overrun",
                _ => "bus failure",
            },
        }
    }
}

/// A TMP105 on an I2C bus, configured for 12-bit resolution on first use.
#[derive(Debug)]
pub struct Tmp105<I> {
    i2c: I,
    address: u8,
    configured: bool,
    /// Set by a successful configuration, taken by [`Self::take_restarted`].
    restarted: bool,
    alert: Option<AlertLimits>,
}

/// The TMP105's own thermostat ("Thermostat Mode (TM)", comparator mode): ALERT goes active
/// (low) once the temperature is at or above T_HIGH for `faults` consecutive conversions and
/// inactive again below T_LOW. Wired to the load switch, it cuts the load even while the MCU is
/// hung or rebooting.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct AlertLimits {
    /// T_HIGH, centi-°C.
    pub high_centi: i16,
    /// T_LOW, centi-°C.
    pub low_centi: i16,
    /// Consecutive conversions: rounded down to the part's 1, 2, 4 or 6.
    pub faults: u8,
}

impl AlertLimits {
    /// The F1F0 field: the largest of 1, 2, 4, 6 not above `faults` (at least 1).
    const fn fault_queue(&self) -> u8 {
        match self.faults {
            0..=1 => 0b00,
            2..=3 => 0b01,
            4..=5 => 0b10,
            _ => 0b11,
        }
    }
}

impl<I: I2c> Tmp105<I> {
    /// A driver for the sensor at `address` (7-bit). Nothing is sent until the first read, so a
    /// board boots even when the sensor is missing (the seat then reports a sensor fault).
    pub const fn new(i2c: I, address: u8) -> Self {
        Self {
            i2c,
            address,
            configured: false,
            restarted: false,
            alert: None,
        }
    }

    /// Gives the bus back (e.g. to share it with another driver after a test).
    pub fn release(self) -> I {
        self.i2c
    }

    /// The bus, borrowed: lets a board or the host's simulator reach the device behind the
    /// driver (a simulated part whose temperature a thermal model sets) without taking it apart.
    pub fn bus_mut(&mut self) -> &mut I {
        &mut self.i2c
    }

    /// Writes the 12-bit configuration and reads it back. Called by [`Self::read_centi`] whenever
    /// the last transaction failed, so a sensor that lost power comes back at full resolution.
    /// With [`Self::set_alert`] limits, the fault queue and both limit registers are written too.
    pub fn configure(&mut self) -> Result<(), Error<I::Error>> {
        self.configured = false;
        let config = match self.alert {
            Some(a) => CONFIG_12_BIT | a.fault_queue() << FAULT_QUEUE_SHIFT,
            None => CONFIG_12_BIT,
        };
        self.i2c
            .write(self.address, &[REG_CONFIG, config])
            .map_err(Error::Bus)?;
        if let Some(a) = self.alert {
            for (reg, centi) in [(REG_T_LOW, a.low_centi), (REG_T_HIGH, a.high_centi)] {
                let [hi, lo] = centi_to_raw(centi).to_be_bytes();
                self.i2c.write(self.address, &[reg, hi, lo]).map_err(Error::Bus)?;
            }
        }
        let mut cfg = [0u8; 1];
        self.read_register(REG_CONFIG, &mut cfg)?;
        // OS (bit 7) reads back as 0 in continuous mode; compare the bits we set.
        if cfg[0] & 0x7F != config {
            return Err(Error::Config(cfg[0]));
        }
        self.configured = true;
        self.restarted = true;
        Ok(())
    }

    /// Programs the part's own thermostat (see [`AlertLimits`]); written at the next read, and
    /// again whenever the part is reconfigured (after it lost power, it is back at its defaults).
    pub fn set_alert(&mut self, limits: AlertLimits) {
        if self.alert != Some(limits) {
            self.alert = Some(limits);
            self.configured = false;
        }
    }

    /// True once after each successful configuration: the part restarted converting, and its
    /// temperature register holds no fresh conversion until [`CONVERSION_MAX_MS`] later.
    pub fn take_restarted(&mut self) -> bool {
        core::mem::take(&mut self.restarted)
    }

    /// Reads the raw 16-bit temperature register (left-justified two's complement).
    pub fn read_raw(&mut self) -> Result<i16, Error<I::Error>> {
        let mut buf = [0u8; 2];
        self.read_register(REG_TEMPERATURE, &mut buf)?;
        Ok(i16::from_be_bytes(buf))
    }

    /// The temperature in centi-°C (see [`raw_to_centi`]), configuring the part first if needed.
    pub fn read_centi(&mut self) -> Result<i16, Error<I::Error>> {
        if !self.configured {
            self.configure()?;
        }
        let raw = self.read_raw().inspect_err(|_| self.configured = false)?;
        Ok(raw_to_centi(raw))
    }

    /// Pointer write, STOP, then a separate read: no repeated START (see the module docs).
    fn read_register(&mut self, reg: u8, buf: &mut [u8]) -> Result<(), Error<I::Error>> {
        self.i2c.write(self.address, &[reg]).map_err(Error::Bus)?;
        self.i2c.read(self.address, buf).map_err(Error::Bus)
    }
}

/// Converts centi-°C to the register format of the limit registers, rounded down to the
/// 1/16 °C step (a hardware limit never above the one the firmware applies), saturated at the
/// register's range.
pub const fn centi_to_raw(centi: i16) -> i16 {
    let sixteenths = (centi as i32 * LSB_PER_C as i32).div_euclid(100);
    let clamped = if sixteenths > 2047 {
        2047
    } else if sixteenths < -2048 {
        -2048
    } else {
        sixteenths
    };
    (clamped << 4) as i16
}

/// Converts the temperature register to centi-°C.
///
/// The 12-bit value (`raw >> 4`, arithmetic) counts sixteenths of a degree, i.e. 6.25 centi-°C
/// per LSB; the result is rounded to the nearest centi-degree, halves away from zero (the same
/// rule as `f64::round`). Exact for every reading that is a multiple of 0.25 °C (−55,
/// 0, 25, 71.5, 90 °C …); −0.0625 °C → −6, 127.9375 °C → 12794. The whole register range
/// (−128 … 127.9375 °C) fits an `i16`. Lower-resolution modes (9–11 bits) leave the low bits
/// zero and convert just as well.
pub const fn raw_to_centi(raw: i16) -> i16 {
    let sixteenths = (raw >> 4) as i32;
    let quarter_centi = sixteenths * 25; // centi-°C × 4
    let rounded = if quarter_centi >= 0 {
        (quarter_centi + 2) / 4
    } else {
        (quarter_centi - 2) / 4
    };
    rounded as i16
}

#[cfg(test)]
mod tests {
    use super::*;
    use embedded_hal::i2c::ErrorKind;
    use embedded_hal_mock::eh1::i2c::{Mock, Transaction};

    const A: u8 = DEFAULT_ADDRESS;

    fn configure_ok() -> [Transaction; 3] {
        [
            Transaction::write(A, vec![0x01, 0x60]),
            Transaction::write(A, vec![0x01]),
            Transaction::read(A, vec![0x60]),
        ]
    }

    fn temp(raw: u16) -> [Transaction; 2] {
        [
            Transaction::write(A, vec![0x00]),
            Transaction::read(A, raw.to_be_bytes().to_vec()),
        ]
    }

    #[test]
    fn conversions_at_the_edges_and_the_rig_values() {
        // (register, centi-°C): "Temperature Register" data format (Table 5) plus the QEMU values
        // from the shared README (25.0 → 0x1900, 47.0 → 0x2F00, 71.5 → 0x4780, 90.0 → 0x5A00).
        let cases: [(u16, i16); 12] = [
            (0x7FF0, 12794), // 127.9375 °C, the top of the register
            (0x7D00, 12500), // 125 °C, the datasheet's top of range
            (0x5A00, 9000),
            (0x4780, 7150),
            (0x2F00, 4700),
            (0x1900, 2500),
            (0x0020, 13),    // 0.125 °C = 12.5 → 13 (half away from zero)
            (0x0010, 6),     // 0.0625 °C = 6.25 → 6
            (0x0000, 0),     // 0 °C
            (0xFFF0, -6),    // −0.0625 °C
            (0xF600, -1000), // −10 °C
            (0xC900, -5500), // −55 °C, the datasheet's bottom of range
        ];
        for (raw, centi) in cases {
            assert_eq!(raw_to_centi(raw as i16), centi, "raw {raw:#06x}");
        }
        assert_eq!(raw_to_centi(i16::MIN), -12800, "−128 °C, the register's bottom");
        // 9-bit mode leaves bits 6..0 zero: 0.5 °C steps convert exactly.
        assert_eq!(raw_to_centi(0x1980), 2550);
    }

    #[test]
    fn the_range_constants_are_what_the_register_encodes() {
        assert_eq!(raw_to_centi(0xC900u16 as i16), MEASURABLE_MIN_C * 100);
        assert_eq!(raw_to_centi(0xD800u16 as i16), SPECIFIED_MIN_C * 100);
        assert_eq!(raw_to_centi(0x7D00), MAX_C * 100);
        assert_eq!(RESOLUTION_C, 0.0625);
        assert_eq!(raw_to_centi(1 << 4), 6, "one LSB is 6.25 centi-°C");
    }

    #[test]
    fn reads_configure_12_bit_first_with_separate_pointer_write_and_read() {
        let mut expect = configure_ok().to_vec();
        expect.extend(temp(0x4780));
        expect.extend(temp(0xFFF0));
        let mut i2c = Mock::new(&expect);
        let mut s = Tmp105::new(i2c.clone(), A);
        assert_eq!(s.read_centi(), Ok(7150));
        assert_eq!(s.read_centi(), Ok(-6));
        i2c.done();
    }

    #[test]
    fn a_missing_sensor_is_an_error_not_a_value_and_is_reconfigured_when_back() {
        let nack = ErrorKind::NoAcknowledge(embedded_hal::i2c::NoAcknowledgeSource::Address);
        let mut expect = vec![Transaction::write(A, vec![0x01, 0x60]).with_error(nack)];
        expect.extend(configure_ok());
        expect.push(Transaction::write(A, vec![0x00]).with_error(nack));
        // After a failed read the part may have power-cycled back to 9 bits: configure again.
        expect.extend(configure_ok());
        expect.extend(temp(0x1900));
        let mut i2c = Mock::new(&expect);
        let mut s = Tmp105::new(i2c.clone(), A);
        assert_eq!(s.read_centi(), Err(Error::Bus(nack)));
        assert_eq!(s.read_centi(), Err(Error::Bus(nack)));
        assert_eq!(s.read_centi(), Ok(2500));
        i2c.done();
    }

    #[test]
    fn a_failure_is_described_by_its_kind_for_the_log() {
        use embedded_hal::i2c::NoAcknowledgeSource;
        let absent = Error::Bus(ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address));
        assert_eq!(absent.describe(), "no sensor answers");
        assert_eq!(Error::Bus(ErrorKind::Bus).describe(), "bus error (stuck line?)");
        assert!(Error::<ErrorKind>::Config(0)
            .describe()
            .starts_with("configuration"));
    }

    #[test]
    fn alert_limits_program_comparator_mode_fault_queue_and_both_limits() {
        let limits = AlertLimits {
            high_centi: 8_500,
            low_centi: 8_000,
            faults: 3,
        };
        let expect = [
            // 12 bits, comparator, active low, F1F0 = 01 (two faults: 3 rounds down).
            Transaction::write(A, vec![0x01, 0x68]),
            Transaction::write(A, vec![0x02, 0x50, 0x00]), // T_LOW 80 °C
            Transaction::write(A, vec![0x03, 0x55, 0x00]), // T_HIGH 85 °C
            Transaction::write(A, vec![0x01]),
            Transaction::read(A, vec![0x68]),
            Transaction::write(A, vec![0x00]),
            Transaction::read(A, vec![0x19, 0x00]),
        ];
        let mut i2c = Mock::new(&expect);
        let mut s = Tmp105::new(i2c.clone(), A);
        s.set_alert(limits);
        assert_eq!(s.read_centi(), Ok(2500));
        assert!(s.take_restarted(), "configured: a new conversion is under way");
        assert!(!s.take_restarted(), "once");
        s.set_alert(limits); // unchanged: nothing written again
        i2c.done();
    }

    #[test]
    fn limits_convert_down_to_the_sixteenth_and_saturate() {
        assert_eq!(centi_to_raw(8_500), 0x5500);
        assert_eq!(centi_to_raw(7_150), 0x4780);
        assert_eq!(centi_to_raw(2_503), 0x1900, "25.03 °C → 25.0 (down)");
        assert_eq!(centi_to_raw(-4_000), 0xD800u16 as i16);
        assert_eq!(centi_to_raw(-1), 0xFFF0u16 as i16, "−0.01 °C → −0.0625 (down)");
        assert_eq!(centi_to_raw(i16::MAX), 0x7FF0);
        assert_eq!(centi_to_raw(i16::MIN), i16::MIN);
        let q = |faults| {
            AlertLimits {
                high_centi: 0,
                low_centi: 0,
                faults,
            }
            .fault_queue()
        };
        assert_eq!(
            [q(0), q(1), q(2), q(3), q(4), q(5), q(6), q(60)],
            [0, 0, 1, 1, 2, 2, 3, 3]
        );
    }

    #[test]
    fn a_part_that_does_not_take_the_configuration_is_reported() {
        let expect = [
            Transaction::write(A, vec![0x01, 0x60]),
            Transaction::write(A, vec![0x01]),
            Transaction::read(A, vec![0x00]),
        ];
        let mut i2c = Mock::new(&expect);
        let mut s = Tmp105::new(i2c.clone(), A);
        assert_eq!(s.read_centi(), Err(Error::Config(0x00)));
        i2c.done();
    }
}
