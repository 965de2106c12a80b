//! Register-level drivers for the LM3S6965 peripherals the seat uses. There is no maintained
//! peripheral-access crate for this part (`lm3s6965` 0.2 only has the interrupt vector), and the
//! seat needs five registers per block, so they are written out here with their datasheet
//! references (Texas Instruments / Luminary Micro "Stellaris LM3S6965 Microcontroller Data Sheet",
//! DS-LM3S6965, cited as "DS" with the chapter and register name).

use core::ptr::{read_volatile, write_volatile};

use embedded_hal::delay::DelayNs;
use embedded_hal::i2c::{self, ErrorKind, NoAcknowledgeSource, Operation, SevenBitAddress};
use heapless::spsc::Producer;
use hemiwatch_firmware::i2c_bus::{clear_bus, BusRecovery, ClearError};
use hemiwatch_firmware::rx::{self, LineError, QueueRx, RxCounters};

#[inline(always)]
fn rd(addr: usize) -> u32 {
    // SAFETY: only called with the MMIO register addresses below, which are always mapped.
    unsafe { read_volatile(addr as *const u32) }
}

#[inline(always)]
fn wr(addr: usize, v: u32) {
    // SAFETY: as for `rd`; these registers have no memory-safety side effects.
    unsafe { write_volatile(addr as *mut u32, v) }
}

/// Sets `bits` in the register at `addr`, keeping the others (read-modify-write).
#[inline(always)]
fn set_bits(addr: usize, bits: u32) {
    wr(addr, rd(addr) | bits);
}

/// Polls the register at `addr` until its `mask` bits are all clear (`set` false) or any is set
/// (`set` true), giving up after `max_spins` more reads: false when it gave up. Every wait on
/// the hardware is bounded, so a wedged peripheral ends in an error, not a hung loop.
fn wait_for(addr: usize, mask: u32, set: bool, max_spins: u32) -> bool {
    let mut spins = 0;
    while (rd(addr) & mask != 0) != set {
        if spins == max_spins {
            return false;
        }
        spins += 1;
    }
    true
}

/// System control (DS "System Control", base 0x400F_E000).
pub mod sysctl {
    use super::{rd, set_bits, wait_for, wr};

    const BASE: usize = 0x400F_E000;
    /// Raw interrupt status; bit 6 PLLLRIS = PLL locked (DS "System Control", register RIS).
    const RIS: usize = BASE + 0x050;
    /// Reset cause (DS "System Control", register RESC): EXT 0, POR 1, BOR 2, WDT 3, SW 4, LDO 5.
    const RESC: usize = BASE + 0x05C;
    /// Run-mode clock configuration (DS "System Control", register RCC).
    const RCC: usize = BASE + 0x060;
    /// Run-mode clock gating 0/1/2 (DS "System Control", registers RCGC0–RCGC2).
    const RCGC0: usize = BASE + 0x100;
    const RCGC1: usize = BASE + 0x104;
    const RCGC2: usize = BASE + 0x108;
    /// Software reset control 1; bit 12 resets I2C0 (DS "System Control", register SRCR1).
    const SRCR1: usize = BASE + 0x044;
    const SRCR1_I2C0: u32 = 1 << 12;

    const RCC_BYPASS: u32 = 1 << 11;
    const RCC_PWRDN: u32 = 1 << 13;
    const RCC_USESYSDIV: u32 = 1 << 22;
    const RCC_XTAL_MASK: u32 = 0xF << 6;
    /// XTAL = 0xE: the EVB's 8 MHz crystal (DS, RCC register, XTAL field values).
    const RCC_XTAL_8MHZ: u32 = 0xE << 6;
    const RCC_OSCSRC_MASK: u32 = 0x3 << 4;
    const RCC_SYSDIV_MASK: u32 = 0xF << 23;
    /// SYSDIV = 3: 200 MHz PLL / 4 = 50 MHz, the part's maximum (DS, RCC register, SYSDIV field values).
    const RCC_SYSDIV_50MHZ: u32 = 3 << 23;
    const RIS_PLLLRIS: u32 = 1 << 6;

    /// The system clock after [`clock_50mhz`], in Hz.
    pub const SYSCLK_HZ: u32 = 50_000_000;

    /// Runs the core from the PLL at 50 MHz (DS "System Control", "Initialization and Configuration": bypass,
    /// set crystal, power the PLL, set SYSDIV, wait for lock, un-bypass). QEMU models the same
    /// register and derives SysTick's and the watchdog's clock from SYSDIV.
    pub fn clock_50mhz() {
        let mut rcc = rd(RCC);
        rcc = (rcc | RCC_BYPASS) & !RCC_USESYSDIV;
        wr(RCC, rcc);
        rcc = (rcc & !(RCC_XTAL_MASK | RCC_OSCSRC_MASK | RCC_PWRDN)) | RCC_XTAL_8MHZ;
        wr(RCC, rcc);
        rcc = (rcc & !RCC_SYSDIV_MASK) | RCC_SYSDIV_50MHZ | RCC_USESYSDIV;
        wr(RCC, rcc);
        // The PLL locks within 0.5 ms (DS "Electrical Characteristics", PLL lock time); bound the wait.
        // On a time-out the clock is switched anyway: a PLL that never locks is no better bypassed.
        wait_for(RIS, RIS_PLLLRIS, true, 1_000_000);
        wr(RCC, rcc & !RCC_BYPASS);
    }

    /// Gates the clocks of WDT0, UART0, I2C0 and GPIO A/B/F on (DS "System Control", registers RCGC0–RCGC2).
    pub fn enable_peripherals() {
        set_bits(RCGC0, 1 << 3); // WDT0
        set_bits(RCGC1, 1 << 0 | 1 << 12); // UART0, I2C0
        set_bits(RCGC2, 1 << 0 | 1 << 1 | 1 << 5); // GPIOA, GPIOB, GPIOF
    }

    /// Puts I2C0 through a reset (set then clear its SRCR1 bit): its master state machine is back
    /// to idle and its registers to their reset values.
    pub fn reset_i2c0() {
        set_bits(SRCR1, SRCR1_I2C0);
        wr(SRCR1, rd(SRCR1) & !SRCR1_I2C0);
    }

    /// Whether the last reset was the watchdog's (RESC.WDT) and whether it was a brown-out
    /// (RESC.BOR); clears the register so the next boot reads its own cause.
    pub fn take_reset_cause() -> (bool, bool) {
        let resc = rd(RESC);
        wr(RESC, 0);
        (resc & (1 << 3) != 0, resc & (1 << 2) != 0)
    }
}

/// GPIO ports in their APB aperture (DS "General-Purpose Input/Outputs").
pub mod gpio {
    use super::{rd, set_bits, wr};

    const PORTA: usize = 0x4000_4000;
    const PORTB: usize = 0x4000_5000;
    const PORTF: usize = 0x4002_5000;
    const DIR: usize = 0x400;
    const AFSEL: usize = 0x420;
    const DEN: usize = 0x51C;
    /// Open-drain select (DS "General-Purpose Input/Outputs", register GPIOODR).
    const ODR: usize = 0x50C;
    /// I2C0's pins on port B: SCL PB2, SDA PB3.
    pub const I2C0_SCL: u32 = 1 << 2;
    pub const I2C0_SDA: u32 = 1 << 3;

    /// PA0/PA1 to UART0 RX/TX and PB2/PB3 to I2C0 SCL/SDA (DS "Signal Tables",
    /// GPIO pins with alternate functions); PF0 (the EVB's user LED) as an output; PB0 as the
    /// open-drain load-cut line.
    pub fn init() {
        set_bits(PORTA + AFSEL, 0b11);
        set_bits(PORTA + DEN, 0b11);
        set_bits(PORTB + AFSEL, 0b1100);
        set_bits(PORTB + DEN, 0b1100);
        set_bits(PORTF + DIR, 1);
        set_bits(PORTF + DEN, 1);
        // PB0: the load-cut line, open drain, released (load on) until the seat says otherwise.
        load_cut(false);
        set_bits(PORTB + ODR, LOAD_CUT);
        set_bits(PORTB + DIR, LOAD_CUT);
        set_bits(PORTB + DEN, LOAD_CUT);
    }

    /// PB0, the load-cut line (see `firmware/README.md`).
    const LOAD_CUT: u32 = 1 << 0;

    /// Pulls the load switch's enable low (`true`: load off) or releases it to its pull-up.
    pub fn load_cut(cut: bool) {
        wr(PORTB + (LOAD_CUT << 2) as usize, if cut { 0 } else { LOAD_CUT });
    }

    /// Hands PB2/PB3 to I2C0 (`true`) or takes them back as open-drain GPIO outputs, released
    /// high (`false`), for a bus clear.
    pub fn i2c0_pins_to_peripheral(on: bool) {
        let pins = I2C0_SCL | I2C0_SDA;
        if on {
            set_bits(PORTB + AFSEL, pins);
        } else {
            wr(PORTB + (pins << 2) as usize, pins); // latch high = released
            set_bits(PORTB + ODR, pins);
            set_bits(PORTB + DIR, pins);
            wr(PORTB + AFSEL, rd(PORTB + AFSEL) & !pins);
        }
    }

    /// One port-B pin as an open-drain line for [`hemiwatch_firmware::i2c_bus::clear_bus`]: the
    /// masked data address writes and reads only its bit (DS "Data Register Operation"); with the
    /// digital enable on, a read returns the pin's level, so a slave holding it low reads low.
    pub struct OpenDrainB(pub u32);

    impl embedded_hal::digital::ErrorType for OpenDrainB {
        type Error = core::convert::Infallible;
    }

    impl embedded_hal::digital::OutputPin for OpenDrainB {
        fn set_low(&mut self) -> Result<(), Self::Error> {
            wr(PORTB + (self.0 << 2) as usize, 0);
            Ok(())
        }
        fn set_high(&mut self) -> Result<(), Self::Error> {
            wr(PORTB + (self.0 << 2) as usize, self.0);
            Ok(())
        }
    }

    impl embedded_hal::digital::InputPin for OpenDrainB {
        fn is_high(&mut self) -> Result<bool, Self::Error> {
            Ok(rd(PORTB + (self.0 << 2) as usize) & self.0 != 0)
        }
        fn is_low(&mut self) -> Result<bool, Self::Error> {
            self.is_high().map(|h| !h)
        }
    }

    /// Drives the user LED (PF0) through the masked data address (bit 0 → offset 1 << 2).
    pub fn led(on: bool) {
        wr(PORTF + (1 << 2), u32::from(on));
    }

    /// PB1: the rig's RS-485 driver enable (DE, with RE̅ tied to it), a push-pull output, low
    /// (driver off, receiver on) from [`De::init`]. The lm3s6965evb has no transceiver; the pin
    /// is what a rig's MAX3485 would hang on, so both boards run the core's one DE code path
    /// ([`hemiwatch_firmware::rs485::Rs485`]).
    pub struct De;

    const DE_PIN: u32 = 1 << 1;

    impl De {
        /// Makes PB1 an output, driven low.
        pub fn init() -> Self {
            wr(PORTB + (DE_PIN << 2) as usize, 0);
            set_bits(PORTB + DIR, DE_PIN);
            set_bits(PORTB + DEN, DE_PIN);
            Self
        }
    }

    impl embedded_hal::digital::ErrorType for De {
        type Error = core::convert::Infallible;
    }

    impl embedded_hal::digital::OutputPin for De {
        fn set_low(&mut self) -> Result<(), Self::Error> {
            wr(PORTB + (DE_PIN << 2) as usize, 0);
            Ok(())
        }
        fn set_high(&mut self) -> Result<(), Self::Error> {
            wr(PORTB + (DE_PIN << 2) as usize, DE_PIN);
            Ok(())
        }
    }
}

/// UART0, an ARM PL011 (DS "Universal Asynchronous Receivers/Transmitters", base 0x4000_C000), as an embedded-io byte port.
pub struct Uart0 {
    rx: QueueRx<'static>,
}

impl Uart0 {
    const BASE: usize = 0x4000_C000;
    const DR: usize = Self::BASE;
    const FR: usize = Self::BASE + 0x018;
    const IBRD: usize = Self::BASE + 0x024;
    const FBRD: usize = Self::BASE + 0x028;
    const LCRH: usize = Self::BASE + 0x02C;
    const CTL: usize = Self::BASE + 0x030;
    /// Interrupt mask: RXIM bit 4, RTIM bit 6 (DS UART, register UARTIM).
    const IM: usize = Self::BASE + 0x038;
    /// Interrupt clear (DS UART, register UARTICR).
    const ICR: usize = Self::BASE + 0x044;
    const INT_RX_RT: u32 = 1 << 4 | 1 << 6;
    /// Data register error bits: FE 8, OE 11 (DS UART, register UARTDR; no noise flag here).
    const DR_FE: u32 = 1 << 8;
    const DR_OE: u32 = 1 << 11;
    const FR_RXFE: u32 = 1 << 4;
    const FR_TXFF: u32 = 1 << 5;
    /// Bounded wait for TX FIFO room: ~14 byte times at 115200 baud and 50 MHz.
    const TX_SPINS: u32 = 100_000;

    /// 115200 8N1 with FIFOs. BRD = 50 MHz / (16 × 115200) = 27.1267: IBRD 27, FBRD
    /// round(0.1267 × 64) = 8 (DS UART "Baud-Rate Generation").
    ///
    /// Reception is the receive/receive-time-out interrupt's: [`Self::on_interrupt`] moves
    /// bytes into the queue `rx` reads from; the board unmasks `UART0` in the NVIC.
    pub fn init(rx: QueueRx<'static>) -> Self {
        wr(Self::CTL, 0);
        wr(Self::IBRD, 27);
        wr(Self::FBRD, 8);
        wr(Self::LCRH, 0x3 << 5 | 1 << 4); // WLEN = 8 bits, FEN
        wr(Self::IM, Self::INT_RX_RT);
        wr(Self::CTL, 1 | 1 << 8 | 1 << 9); // UARTEN, TXE, RXE
        Self { rx }
    }

    /// The UART0 interrupt's work: drain the receive FIFO into the queue, counting the errors
    /// each byte carries, and clear the receive and time-out interrupts.
    pub fn on_interrupt(producer: &mut Producer<'static, u8>, counters: &RxCounters) {
        // At most a FIFO's worth (16) plus what arrives meanwhile: bounded.
        for _ in 0..32 {
            if rd(Self::FR) & Self::FR_RXFE != 0 {
                break;
            }
            let dr = rd(Self::DR);
            if dr & Self::DR_OE != 0 {
                counters.note(LineError::Overrun);
            }
            if dr & Self::DR_FE != 0 {
                counters.note(LineError::Framing);
            }
            rx::on_byte(producer, counters, dr as u8);
        }
        wr(Self::ICR, Self::INT_RX_RT);
    }
}

/// A UART write that could not complete.
#[derive(Copy, Clone, Debug, PartialEq, Eq, defmt::Format)]
pub enum UartError {
    /// The transmit FIFO stayed full: the transmitter is wedged.
    TxTimeout,
}

impl embedded_io::Error for UartError {
    fn kind(&self) -> embedded_io::ErrorKind {
        embedded_io::ErrorKind::TimedOut
    }
}

impl embedded_io::ErrorType for Uart0 {
    type Error = UartError;
}

impl embedded_io::ReadReady for Uart0 {
    fn read_ready(&mut self) -> Result<bool, UartError> {
        Ok(self.rx.read_ready().unwrap_or(false))
    }
}

impl embedded_io::Read for Uart0 {
    /// What the receive queue holds (the seat reads only after `read_ready`).
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, UartError> {
        Ok(self.rx.read(buf).unwrap_or(0))
    }
}

impl embedded_io::Write for Uart0 {
    fn write(&mut self, buf: &[u8]) -> Result<usize, UartError> {
        let mut n = 0;
        for &b in buf {
            if !wait_for(Self::FR, Self::FR_TXFF, false, Self::TX_SPINS) {
                return if n > 0 { Ok(n) } else { Err(UartError::TxTimeout) };
            }
            wr(Self::DR, u32::from(b));
            n += 1;
        }
        Ok(n)
    }

    fn flush(&mut self) -> Result<(), UartError> {
        Ok(())
    }
}

/// I2C0 master (DS "Inter-Integrated Circuit (I2C) Interface", base 0x4002_0000) as an embedded-hal 1.0 bus.
///
/// Each operation is its own START … STOP transaction: QEMU's Stellaris I2C model does not do a
/// repeated START (see `shared/README.md`), and the TMP105 driver never asks for one. A
/// `transaction` with several operations therefore puts a STOP between them — a documented
/// deviation from embedded-hal's contract that LM75-class sensors do not notice.
pub struct I2c0 {
    _private: (),
}

impl I2c0 {
    const BASE: usize = 0x4002_0000;
    /// Slave address and direction (DS I2C, register I2CMSA).
    const MSA: usize = Self::BASE;
    /// Control (write) / status (read) (DS I2C, register I2CMCS).
    const MCS: usize = Self::BASE + 0x004;
    const MDR: usize = Self::BASE + 0x008;
    /// Timer period (DS I2C, register I2CMTPR).
    const MTPR: usize = Self::BASE + 0x00C;
    /// Configuration: MFE (bit 4) enables the master (DS I2C, register I2CMCR).
    const MCR: usize = Self::BASE + 0x020;

    const RUN: u32 = 1 << 0;
    const START: u32 = 1 << 1;
    const STOP: u32 = 1 << 2;
    const ACK: u32 = 1 << 3;
    const BUSY: u32 = 1 << 0;
    const ERROR: u32 = 1 << 1;
    const ADRACK: u32 = 1 << 2;
    const DATACK: u32 = 1 << 3;
    const ARBLST: u32 = 1 << 4;
    /// Bounded wait for one byte: ~10 byte times at 100 kHz and 50 MHz.
    const BUSY_SPINS: u32 = 200_000;

    /// Master mode at 100 kHz: TPR = 50 MHz / (2 × (6 + 4) × 100 kHz) − 1 = 24 (DS I2C "Clock
    /// Generation").
    pub fn init() -> Self {
        Self::configure();
        Self { _private: () }
    }

    fn configure() {
        wr(Self::MCR, 0x10);
        wr(Self::MTPR, 24);
    }

    fn wait(&self) -> Result<(), ErrorKind> {
        if !wait_for(Self::MCS, Self::BUSY, false, Self::BUSY_SPINS) {
            return Err(ErrorKind::Bus);
        }
        let s = rd(Self::MCS);
        if s & Self::ERROR == 0 {
            return Ok(());
        }
        Err(if s & Self::ARBLST != 0 {
            ErrorKind::ArbitrationLoss
        } else if s & Self::ADRACK != 0 {
            ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address)
        } else if s & Self::DATACK != 0 {
            ErrorKind::NoAcknowledge(NoAcknowledgeSource::Data)
        } else {
            ErrorKind::NoAcknowledge(NoAcknowledgeSource::Unknown)
        })
    }

    /// After an error the master still holds the bus unless it lost arbitration: send STOP.
    fn abort(&self, e: ErrorKind) -> ErrorKind {
        if e != ErrorKind::ArbitrationLoss {
            wr(Self::MCS, Self::STOP);
        }
        e
    }

    /// Moves byte `i` of a transfer of `len` bytes and waits for it: START before the first
    /// byte, STOP after the last; a read ACKs every byte but the last (0xB, 0x9 …, 0x5), a write
    /// of one byte is 0x7 (START|RUN|STOP). On an error the bus is released.
    fn byte(&self, i: usize, len: usize, read: bool) -> Result<(), ErrorKind> {
        let mut cmd = Self::RUN;
        if i == 0 {
            cmd |= Self::START;
        }
        if i + 1 >= len {
            cmd |= Self::STOP;
        } else if read {
            cmd |= Self::ACK;
        }
        wr(Self::MCS, cmd);
        self.wait().map_err(|e| self.abort(e))
    }

    fn write_bytes(&mut self, addr: u8, bytes: &[u8]) -> Result<(), ErrorKind> {
        wr(Self::MSA, u32::from(addr) << 1);
        for (i, &b) in bytes.iter().enumerate() {
            wr(Self::MDR, u32::from(b));
            self.byte(i, bytes.len(), false)?;
        }
        Ok(())
    }

    fn read_bytes(&mut self, addr: u8, buf: &mut [u8]) -> Result<(), ErrorKind> {
        wr(Self::MSA, u32::from(addr) << 1 | 1);
        let len = buf.len();
        for (i, b) in buf.iter_mut().enumerate() {
            self.byte(i, len, true)?;
            *b = rd(Self::MDR) as u8;
        }
        Ok(())
    }
}

impl BusRecovery for I2c0 {
    /// PB2/PB3 as open-drain GPIO for [`clear_bus`], then back to I2C0, which is reset and
    /// configured again.
    fn recover(&mut self) -> Result<u8, ClearError> {
        gpio::i2c0_pins_to_peripheral(false);
        let result = clear_bus(
            &mut gpio::OpenDrainB(gpio::I2C0_SCL),
            &mut gpio::OpenDrainB(gpio::I2C0_SDA),
            &mut SpinDelay,
        );
        gpio::i2c0_pins_to_peripheral(true);
        sysctl::reset_i2c0();
        Self::configure();
        result
    }
}

/// A busy-wait [`DelayNs`] at the 50 MHz system clock (SysTick is the millisecond clock, so the
/// short delays of a bus clear are counted in CPU cycles; at least as long as asked).
pub struct SpinDelay;

impl DelayNs for SpinDelay {
    fn delay_ns(&mut self, ns: u32) {
        cortex_m::asm::delay((sysctl::SYSCLK_HZ / 1_000_000).saturating_mul(ns.div_ceil(1_000)));
    }
}

impl i2c::ErrorType for I2c0 {
    type Error = ErrorKind;
}

impl i2c::I2c<SevenBitAddress> for I2c0 {
    fn transaction(&mut self, address: u8, operations: &mut [Operation<'_>]) -> Result<(), ErrorKind> {
        for op in operations {
            match op {
                Operation::Write(bytes) if !bytes.is_empty() => self.write_bytes(address, bytes)?,
                Operation::Read(buf) if !buf.is_empty() => self.read_bytes(address, buf)?,
                _ => {}
            }
        }
        Ok(())
    }
}

/// Watchdog timer 0 (DS "Watchdog Timer", base 0x4000_0000). It counts down from LOAD at the system clock;
/// the first time-out raises its interrupt, the second resets the chip (with RESEN). Feeding =
/// clearing the interrupt, which reloads the counter (DS "Watchdog Timer", "Functional Description").
pub mod watchdog {
    use super::{rd, wr};

    const BASE: usize = 0x4000_0000;
    const LOAD: usize = BASE;
    const CTL: usize = BASE + 0x008;
    const ICR: usize = BASE + 0x00C;
    const LOCK: usize = BASE + 0xC00;
    /// Unlock key of WDTLOCK (DS "Watchdog Timer", register WDTLOCK).
    const UNLOCK: u32 = 0x1ACC_E551;

    /// Starts it with a first time-out of `ms` (reset after twice that without feeding).
    pub fn start(ms: u32) {
        unlocked(|| {
            wr(LOAD, super::sysctl::SYSCLK_HZ / 1_000 * ms);
            wr(CTL, 0b11); // INTEN | RESEN
        });
    }

    /// Feeds it: clears the time-out interrupt and reloads the counter.
    pub fn feed() {
        unlocked(|| wr(ICR, 1));
    }

    /// Writes its registers between unlocking and locking them again (DS register WDTLOCK).
    #[inline(always)]
    fn unlocked(f: impl FnOnce()) {
        wr(LOCK, UNLOCK);
        f();
        wr(LOCK, 0);
    }

    /// Whether its first time-out is pending (read in the interrupt handler).
    pub fn timed_out() -> bool {
        rd(BASE + 0x010) & 1 != 0
    }
}
