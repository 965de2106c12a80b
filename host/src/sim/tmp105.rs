//! An in-memory TMP105 on an in-memory I2C bus: what the firmware's real driver
//! ([`hemiwatch_firmware::tmp105::Tmp105`]) talks to inside a simulated seat.
//!
//! It answers exactly the transactions the driver makes (pointer write, then a separate read;
//! configuration write and read-back) and holds its temperature register in the part's 12-bit
//! encoding, so the firmware converts a simulated reading with the same code as a real one. The
//! seat's thermal model sets the temperature; a dead sensor stops acknowledging its address.

use embedded_hal::i2c::{ErrorKind, ErrorType, I2c, NoAcknowledgeSource, Operation, SevenBitAddress};
use hemiwatch_firmware::tmp105::{DEFAULT_ADDRESS, LSB_PER_C};

/// Temperature register pointer (the driver's, from the datasheet's "Pointer Register").
const POINTER_TEMPERATURE: u8 = 0x00;
/// Configuration register pointer.
const POINTER_CONFIG: u8 = 0x01;
/// Writable bits of the configuration register (OS, bit 7, reads back 0 in continuous mode).
const CONFIG_WRITABLE: u8 = 0x7F;

/// The simulated part: its registers, whether it still answers, and whether the driver has read
/// the current conversion yet.
#[derive(Clone, Debug, Default)]
pub struct SimTmp105 {
    pointer: u8,
    config: u8,
    temperature: i16,
    dead: bool,
    read: bool,
}

impl SimTmp105 {
    /// A part at power-up: register 0 (0 °C, as the real part before its first conversion).
    pub fn new() -> Self {
        Self {
            read: true,
            ..Self::default()
        }
    }

    /// A new conversion of `temp_c`, rounded to the part's resolution and saturated at its
    /// register's range (−128 … +127.9375 °C).
    pub fn convert(&mut self, temp_c: f64) {
        let lsb = (temp_c * f64::from(LSB_PER_C)).round();
        // 12 significant bits, left-justified in 16 (the register's layout).
        let twelve_bit = lsb.clamp(-2048.0, 2047.0) as i16;
        self.temperature = twelve_bit << 4;
        self.read = false;
    }

    /// Whether the driver has read the last conversion (a new one is then due).
    pub fn conversion_read(&self) -> bool {
        self.read
    }

    /// A dead part (broken wire, lost power) NACKs its address; `false` brings it back.
    pub fn set_dead(&mut self, dead: bool) {
        self.dead = dead;
    }

    fn on_write(&mut self, bytes: &[u8]) {
        if let Some((&pointer, rest)) = bytes.split_first() {
            self.pointer = pointer;
            if pointer == POINTER_CONFIG {
                if let Some(&c) = rest.first() {
                    self.config = c & CONFIG_WRITABLE;
                }
            }
        }
    }

    fn on_read(&mut self, buf: &mut [u8]) {
        let value: [u8; 2] = match self.pointer {
            POINTER_TEMPERATURE => {
                self.read = true;
                self.temperature.to_be_bytes()
            }
            POINTER_CONFIG => [self.config, self.config],
            _ => [0, 0],
        };
        for (b, v) in buf.iter_mut().zip(value.iter().cycle()) {
            *b = *v;
        }
    }
}

impl ErrorType for SimTmp105 {
    type Error = ErrorKind;
}

impl I2c<SevenBitAddress> for SimTmp105 {
    fn transaction(
        &mut self,
        address: SevenBitAddress,
        operations: &mut [Operation<'_>],
    ) -> Result<(), Self::Error> {
        if self.dead || address != DEFAULT_ADDRESS {
            return Err(ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address));
        }
        for op in operations {
            match op {
                Operation::Write(bytes) => self.on_write(bytes),
                Operation::Read(buf) => self.on_read(buf),
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hemiwatch_firmware::tmp105::{Tmp105, MAX_C, MEASURABLE_MIN_C, RESOLUTION_C};

    #[test]
    fn the_firmware_driver_reads_what_was_converted_at_the_parts_resolution() {
        let mut t = Tmp105::new(SimTmp105::new(), DEFAULT_ADDRESS);
        for (c, centi) in [
            (25.0, 2_500),
            (71.5, 7_150),
            (-0.0625, -6),
            (f64::from(MEASURABLE_MIN_C), MEASURABLE_MIN_C * 100),
            (f64::from(MAX_C), MAX_C * 100),
            (40.0 + RESOLUTION_C / 3.0, 4_000),
            (200.0, 12_794),
        ] {
            t.bus_mut().convert(c);
            assert!(!t.bus_mut().conversion_read());
            assert_eq!(t.read_centi(), Ok(centi), "{c} °C");
            assert!(t.bus_mut().conversion_read());
        }
    }

    #[test]
    fn a_dead_part_is_a_bus_error_and_is_reconfigured_when_back() {
        let mut t = Tmp105::new(SimTmp105::new(), DEFAULT_ADDRESS);
        t.bus_mut().convert(30.0);
        assert_eq!(t.read_centi(), Ok(3_000));
        t.bus_mut().set_dead(true);
        assert!(t.read_centi().is_err());
        t.bus_mut().set_dead(false);
        t.bus_mut().convert(31.0);
        assert_eq!(t.read_centi(), Ok(3_100));
    }
}
