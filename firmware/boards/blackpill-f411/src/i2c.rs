//! I2C1 master with a bound on every wait, and bus recovery on PB6/PB7.
//!
//! Why not the HAL's `I2c`: every wait in stm32f4xx-hal 0.23's blocking I2C (`prepare_write`,
//! `prepare_read`, `send_byte`, `recv_byte`, the STOP waits) is an unbounded `while` on a status
//! flag, so a slave holding SDA, a missing pull-up or a wedged peripheral hangs the main loop
//! until the watchdog bites — and again after the reset. This driver does the same master
//! sequences at register level (RM0383 §18.3.3 "I2C master mode", registers §18.6), gives up on
//! any wait after [`SPINS`] polls with an error, and implements [`BusRecovery`] by taking PB6/PB7
//! as open-drain GPIO for the core's bus clear and then resetting the peripheral (CR1.SWRST,
//! RM0383 §18.6.1: "used to reinitialize the peripheral after an error or a locked state").
//!
//! Each operation of a `transaction` is its own START … STOP transfer, as on the QEMU board: the
//! TMP105 driver never needs a repeated START.

use embedded_hal::delay::DelayNs;
use embedded_hal::i2c::{self, ErrorKind, NoAcknowledgeSource, Operation, SevenBitAddress};
use hemiwatch_firmware::i2c_bus::{clear_bus, BusRecovery, ClearError};
use stm32f4xx_hal::gpio::{Alternate, OpenDrain, PinState, PB6, PB7};
use stm32f4xx_hal::pac::I2C1;
use stm32f4xx_hal::rcc::{Enable, Rcc, Reset};

/// Polls of a status flag before a wait gives up. A poll is one APB1 register read, at least
/// 4 CPU cycles at 96 MHz: 100 000 polls last 4 ms or more, over 40 byte times at 100 kHz (no
/// flag of a healthy transfer takes longer than one byte time).
const SPINS: u32 = 100_000;

// I2C_CR1 bits (RM0383 §18.6.1).
const CR1_PE: u16 = 1 << 0;
const CR1_START: u16 = 1 << 8;
const CR1_STOP: u16 = 1 << 9;
const CR1_ACK: u16 = 1 << 10;
const CR1_POS: u16 = 1 << 11;
const CR1_SWRST: u16 = 1 << 15;
// I2C_SR1 bits (RM0383 §18.6.6).
const SR1_SB: u16 = 1 << 0;
const SR1_ADDR: u16 = 1 << 1;
const SR1_BTF: u16 = 1 << 2;
const SR1_RXNE: u16 = 1 << 6;
const SR1_TXE: u16 = 1 << 7;
const SR1_BERR: u16 = 1 << 8;
const SR1_ARLO: u16 = 1 << 9;
const SR1_AF: u16 = 1 << 10;
const SR1_OVR: u16 = 1 << 11;
const SR1_TIMEOUT: u16 = 1 << 14;
// I2C_SR2 bits (RM0383 §18.6.7).
const SR2_BUSY: u16 = 1 << 1;

/// Standard mode, 100 kHz.
const BUS_HZ: u32 = 100_000;

/// I2C1 on PB6 (SCL) / PB7 (SDA), AF4 (STM32F411 datasheet DS10314, Table 9 "Alternate
/// function mapping"), with bounded waits. See the module docs.
pub struct I2c1Bus {
    i2c: I2C1,
    scl: PB6<Alternate<4, OpenDrain>>,
    sda: PB7<Alternate<4, OpenDrain>>,
    pclk1_hz: u32,
    cycles_per_us: u32,
}

impl I2c1Bus {
    /// Clocks, resets and configures I2C1 at 100 kHz from the APB1 clock.
    pub fn new(i2c: I2C1, scl: PB6, sda: PB7, rcc: &mut Rcc) -> Self {
        I2C1::enable(rcc);
        I2C1::reset(rcc);
        let bus = Self {
            i2c,
            scl: scl.into_alternate_open_drain(),
            sda: sda.into_alternate_open_drain(),
            pclk1_hz: rcc.clocks.pclk1().raw(),
            cycles_per_us: rcc.clocks.sysclk().raw() / 1_000_000,
        };
        bus.configure();
        bus
    }

    /// Timing and enable (RM0383 §18.6.2 CR2.FREQ = APB1 MHz; §18.6.8 CCR = f_PCLK1 / (2 × 100
    /// kHz) in standard mode, at least 4; §18.6.9 TRISE = 1000 ns × f_PCLK1 + 1).
    fn configure(&self) {
        let mhz = (self.pclk1_hz / 1_000_000) as u16;
        // SAFETY (all three): raw register values computed from the RM0383 formulas above.
        self.i2c.cr1().write(|w| unsafe { w.bits(0) });
        self.i2c.cr2().write(|w| unsafe { w.bits(mhz) });
        self.i2c
            .ccr()
            .write(|w| unsafe { w.bits((self.pclk1_hz / (2 * BUS_HZ)).max(4) as u16) });
        self.i2c.trise().write(|w| unsafe { w.bits(mhz + 1) });
        self.set_cr1(CR1_PE);
    }

    fn set_cr1(&self, bits: u16) {
        // SAFETY: sets documented CR1 control bits, keeping the others.
        self.i2c.cr1().modify(|r, w| unsafe { w.bits(r.bits() | bits) });
    }

    fn clear_cr1(&self, bits: u16) {
        // SAFETY: clears documented CR1 control bits, keeping the others.
        self.i2c.cr1().modify(|r, w| unsafe { w.bits(r.bits() & !bits) });
    }

    /// Waits until any of `flags` is set in SR1, failing on a bus error flag (cleared) or after
    /// [`SPINS`] polls; `nack` names who did not acknowledge if AF rises.
    fn wait_sr1(&self, flags: u16, nack: NoAcknowledgeSource) -> Result<(), ErrorKind> {
        for _ in 0..SPINS {
            let sr1 = self.i2c.sr1().read().bits();
            let errors = sr1 & (SR1_BERR | SR1_ARLO | SR1_AF | SR1_OVR | SR1_TIMEOUT);
            if errors != 0 {
                // SAFETY: error flags are cleared by writing 0 to them (rc_w0), the rest 1.
                self.i2c.sr1().write(|w| unsafe { w.bits(!errors) });
                return Err(if errors & SR1_ARLO != 0 {
                    ErrorKind::ArbitrationLoss
                } else if errors & SR1_AF != 0 {
                    ErrorKind::NoAcknowledge(nack)
                } else if errors & SR1_OVR != 0 {
                    ErrorKind::Overrun
                } else {
                    ErrorKind::Bus
                });
            }
            if sr1 & flags != 0 {
                return Ok(());
            }
        }
        Err(ErrorKind::Other)
    }

    /// Waits for the hardware to clear CR1 bits it clears itself (START/STOP sent), bounded.
    fn wait_cr1_clear(&self, bits: u16) -> Result<(), ErrorKind> {
        for _ in 0..SPINS {
            if self.i2c.cr1().read().bits() & bits == 0 {
                return Ok(());
            }
        }
        Err(ErrorKind::Other)
    }

    /// START and the address byte; returns with ADDR set but not yet cleared.
    fn start(&self, addr: u8, read: bool) -> Result<(), ErrorKind> {
        self.wait_cr1_clear(CR1_STOP)?;
        if self.i2c.sr2().read().bits() & SR2_BUSY != 0 {
            // Someone holds the bus: only a recovery helps.
            return Err(ErrorKind::Bus);
        }
        self.set_cr1(CR1_START);
        self.wait_sr1(SR1_SB, NoAcknowledgeSource::Unknown)?;
        // SAFETY: the 7-bit address and the direction bit.
        self.i2c
            .dr()
            .write(|w| unsafe { w.bits(u16::from(addr) << 1 | u16::from(read)) });
        self.wait_sr1(SR1_ADDR, NoAcknowledgeSource::Address)
    }

    /// ADDR is cleared by reading SR1 then SR2 (RM0383 §18.6.6).
    fn clear_addr(&self) {
        let _ = self.i2c.sr1().read();
        let _ = self.i2c.sr2().read();
    }

    fn dr(&self) -> u8 {
        self.i2c.dr().read().bits() as u8
    }

    fn stop_and_wait(&self) -> Result<(), ErrorKind> {
        self.set_cr1(CR1_STOP);
        self.wait_cr1_clear(CR1_STOP)
    }

    fn write_bytes(&mut self, addr: u8, bytes: &[u8]) -> Result<(), ErrorKind> {
        self.start(addr, false)?;
        self.clear_addr();
        for &b in bytes {
            self.wait_sr1(SR1_TXE, NoAcknowledgeSource::Data)?;
            // SAFETY: a data byte.
            self.i2c.dr().write(|w| unsafe { w.bits(u16::from(b)) });
        }
        if !bytes.is_empty() {
            self.wait_sr1(SR1_BTF, NoAcknowledgeSource::Data)?;
        }
        self.stop_and_wait()
    }

    /// Master receiver, the three cases of RM0383 §18.3.3 ("Closing the communication"): one
    /// byte NACKed before ADDR is cleared; two bytes with POS; more with ACK cleared at N−2.
    fn read_bytes(&mut self, addr: u8, buf: &mut [u8]) -> Result<(), ErrorKind> {
        let n = buf.len();
        if n == 2 {
            self.set_cr1(CR1_ACK | CR1_POS);
        } else {
            self.set_cr1(CR1_ACK);
        }
        let result = self.start(addr, true).and_then(|()| match buf {
            [only] => {
                self.clear_cr1(CR1_ACK);
                self.clear_addr();
                self.set_cr1(CR1_STOP);
                self.wait_sr1(SR1_RXNE, NoAcknowledgeSource::Data)?;
                *only = self.dr();
                self.wait_cr1_clear(CR1_STOP)
            }
            [first, second] => {
                self.clear_addr();
                self.clear_cr1(CR1_ACK);
                self.wait_sr1(SR1_BTF, NoAcknowledgeSource::Data)?;
                self.set_cr1(CR1_STOP);
                *first = self.dr();
                *second = self.dr();
                self.wait_cr1_clear(CR1_STOP)
            }
            _ => {
                self.clear_addr();
                let (head, tail) = buf.split_at_mut(n - 3);
                for b in head {
                    self.wait_sr1(SR1_RXNE, NoAcknowledgeSource::Data)?;
                    *b = self.dr();
                }
                // Data N−2 in DR, N−1 in the shift register.
                self.wait_sr1(SR1_BTF, NoAcknowledgeSource::Data)?;
                self.clear_cr1(CR1_ACK);
                tail[0] = self.dr();
                // Data N−1 in DR, N in the shift register.
                self.wait_sr1(SR1_BTF, NoAcknowledgeSource::Data)?;
                self.set_cr1(CR1_STOP);
                tail[1] = self.dr();
                tail[2] = self.dr();
                self.wait_cr1_clear(CR1_STOP)
            }
        });
        self.clear_cr1(CR1_POS | CR1_ACK);
        result
    }

    /// After an error the master may still own the bus: send STOP unless arbitration was lost.
    fn abort(&self, e: ErrorKind) -> ErrorKind {
        if e != ErrorKind::ArbitrationLoss {
            self.set_cr1(CR1_STOP);
        }
        e
    }
}

impl BusRecovery for I2c1Bus {
    /// PE off, PB6/PB7 as open-drain GPIO for [`clear_bus`] (given back to AF4 afterwards), then
    /// CR1.SWRST and the timing registers written again.
    fn recover(&mut self) -> Result<u8, ClearError> {
        self.clear_cr1(CR1_PE);
        let mut delay = SpinDelay(self.cycles_per_us);
        let sda = &mut self.sda;
        let result = self.scl.with_open_drain_output_in_state(PinState::High, |scl| {
            sda.with_open_drain_output_in_state(PinState::High, |sda| clear_bus(scl, sda, &mut delay))
        });
        self.set_cr1(CR1_SWRST);
        self.clear_cr1(CR1_SWRST);
        self.configure();
        result
    }
}

/// A busy-wait [`DelayNs`] at the core clock (SysTick is the millisecond clock; the few µs of a
/// bus clear are counted in CPU cycles, at least as long as asked).
pub struct SpinDelay(pub u32);

impl DelayNs for SpinDelay {
    fn delay_ns(&mut self, ns: u32) {
        cortex_m::asm::delay(self.0.saturating_mul(ns.div_ceil(1_000)));
    }
}

impl i2c::ErrorType for I2c1Bus {
    type Error = ErrorKind;
}

impl i2c::I2c<SevenBitAddress> for I2c1Bus {
    fn transaction(&mut self, address: u8, operations: &mut [Operation<'_>]) -> Result<(), ErrorKind> {
        for op in operations {
            match op {
                Operation::Write(bytes) => self.write_bytes(address, bytes),
                Operation::Read(buf) if !buf.is_empty() => self.read_bytes(address, buf),
                Operation::Read(_) => Ok(()),
            }
            .map_err(|e| self.abort(e))?;
        }
        Ok(())
    }
}
