//! # hemiwatch-board-blackpill — the seat firmware on an STM32F411 "Black Pill"
//!
//! The real seat board: WeAct's STM32F411CEU6 board (25 MHz crystal) on `stm32f4xx-hal`.
//! Start-up order: IWDG first, then the crystal with a bounded wait (no crystal → 96 MHz from
//! the HSI and a `CLOCK_FALLBACK` event), then the clock security system (HSE failure → NMI →
//! reset). This
//! file only wires it; the behaviour is the board-independent core ([`hemiwatch_firmware`]).
//!
//! | what | where |
//! |---|---|
//! | seat line (RS-485 transceiver or USB-serial) | USART1, PA9 TX / PA10 RX, 115200 8N1; RX by the RXNE interrupt into a 256-byte queue, line errors counted |
//! | TMP105 | I2C1, PB6 SCL / PB7 SDA, 100 kHz, address 0x48 (bounded register-level driver, bus clear on error: `i2c.rs`) |
//! | status LED (safe mode steady, identify blinking) | PC13, active low |
//! | RS-485 driver enable (DE + /RE tied), high while transmitting until TC | PA8, 10 kΩ pull-down |
//! | load cut (safe mode: load switch enable pulled low) | PB12, open drain |
//! | watchdog | IWDG (LSI, independent of the main clock), 2 s |
//! | the seat's µs clock (bus turns are a fraction of a ms) | TIM2, 32-bit, free-running at 1 MHz |
//! | provisioning block | flash sector 7, 0x0806_0000 (see `memory.x`) |
//! | logs | defmt over RTT (`probe-rs run`) |
//!
//! The boot identity mixes the device's 96-bit unique ID (RM0383, "Unique device ID register") with the noise in the
//! low bits of 32 ADC conversions of the internal temperature sensor and VREFINT, and the
//! SysTick count; the F411 has no hardware RNG. A repeated boot id only lets the host mistake a
//! reboot for a re-hello; it is not a security parameter (the host's session nonce is).

#![no_std]
#![no_main]

mod i2c;

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::{entry, exception};
use defmt_rtt as _;
use heapless::spsc::{Producer, Queue};
use hemiwatch_firmware::board::{self, MainLoop};
use hemiwatch_firmware::i2c_bus::Recovering;
use hemiwatch_firmware::provision::{self, Provision};
use hemiwatch_firmware::rs485::Rs485;
use hemiwatch_firmware::rx::{self, LineError, QueueRx, RxCounters};
use hemiwatch_firmware::tmp105::{Tmp105, DEFAULT_ADDRESS};
use hemiwatch_firmware::{mix32, BootInfo, Seat};
use hemiwatch_protocol::{BoardKind, FaultCode, ResetCause};
use stm32f4xx_hal::adc::config::{AdcConfig, SampleTime};
use stm32f4xx_hal::adc::{Adc, Temperature, Vref};
use stm32f4xx_hal::gpio::PinState;
use stm32f4xx_hal::interrupt;
use stm32f4xx_hal::pac::{self, USART1};
use stm32f4xx_hal::prelude::*;
use stm32f4xx_hal::rcc::Config;
use stm32f4xx_hal::serial::{self, Serial};
use stm32f4xx_hal::signature::Uid;
use stm32f4xx_hal::watchdog::IndependentWatchdog;
use stm32f4xx_hal::Listen;

use i2c::I2c1Bus;

/// Milliseconds since boot, advanced by the SysTick handler.
static MILLIS: AtomicU32 = AtomicU32::new(0);

defmt::timestamp!("{=u32:ms}", MILLIS.load(Ordering::Relaxed));

fn millis() -> u32 {
    MILLIS.load(Ordering::Relaxed)
}

/// The Black Pill's crystal, MHz.
const HSE_MHZ: u32 = 25;

/// Polls of HSERDY before giving up on the crystal. From the 16 MHz HSI a poll takes at least 4
/// cycles: 200 000 polls last 50 ms or more, 25 times the HSE's typical 2 ms start-up
/// (STM32F411 datasheet DS10314, "High-speed external user clock", t_SU(HSE)).
const HSE_SPINS: u32 = 200_000;

/// Turns the HSE on and waits for HSERDY (RM0383 §6.3.1 "RCC clock control register"), bounded;
/// on a time-out switches it off again and says false.
fn start_hse(rcc: &pac::RCC) -> bool {
    rcc.cr().modify(|_, w| w.hseon().set_bit());
    for _ in 0..HSE_SPINS {
        if rcc.cr().read().hserdy().bit_is_set() {
            return true;
        }
    }
    rcc.cr().modify(|_, w| w.hseon().clear_bit());
    false
}

/// System clock: 96 MHz through the PLL (a multiple of 48 MHz, within the F411's 100).
const SYSCLK_MHZ: u32 = 96;

#[entry]
fn main() -> ! {
    let (Some(dp), Some(mut cp)) = (pac::Peripherals::take(), cortex_m::Peripherals::take()) else {
        // Unreachable (the entry runs once); nothing can run without the peripherals.
        loop {
            cortex_m::asm::wfi();
        }
    };
    // The watchdog first: the IWDG runs from the LSI, so it guards the clock set-up as well.
    let mut watchdog = IndependentWatchdog::new(dp.IWDG);
    watchdog.start(2_000.millis());

    let crashed = take_crash().is_some();
    let reset = take_reset_cause(&dp.RCC);
    let reset = if crashed { ResetCause::Panic } else { reset };
    // The HAL's `freeze` waits for HSERDY without a limit: start the crystal here with a bounded
    // wait, and build the clock tree from the HSI (the same 96 MHz through the PLL) without it.
    let hse = start_hse(&dp.RCC);
    let config = if hse {
        Config::hse(HSE_MHZ.MHz())
    } else {
        Config::hsi()
    };
    let mut rcc = dp.RCC.freeze(config.sysclk(SYSCLK_MHZ.MHz()));
    if hse {
        // Clock security system (RM0383 §6.2.7): if the HSE fails, the hardware switches to the
        // HSI and raises an NMI (handled below).
        rcc.cr().modify(|_, w| w.csson().set_bit());
    }

    // TIM2: a free-running 32-bit counter at 1 MHz (RM0383 §13, general-purpose timers): the
    // seat's microsecond clock, extended to 64 bits by `Micros`.
    rcc.apb1enr().modify(|_, w| w.tim2en().set_bit());
    let tim2 = dp.TIM2;
    tim2.psc()
        .write(|w| w.psc().set((rcc.clocks.timclk1().raw() / 1_000_000 - 1) as u16));
    tim2.arr().write(|w| w.arr().set(u32::MAX));
    tim2.egr().write(|w| w.ug().set_bit());
    tim2.cr1().modify(|_, w| w.cen().set_bit());
    let mut clock = Micros {
        tim2,
        last: 0,
        high: 0,
    };

    cp.SYST.set_clock_source(SystClkSource::Core);
    cp.SYST.set_reload(rcc.clocks.sysclk().raw() / 1_000 - 1);
    cp.SYST.clear_current();
    cp.SYST.enable_interrupt();
    cp.SYST.enable_counter();

    let (prov, provisioned) = board::load_provision(provision_block(), cfg!(feature = "demo"));
    let on_bus = board::joins_bus(provisioned, cfg!(feature = "demo"));
    let mut adc = Adc::new(dp.ADC1, true, AdcConfig::default(), &mut rcc);
    let boot_id = boot_id(&prov, &mut adc);
    defmt::info!("boot {=u32:#010x}, reset {}", boot_id, reset);

    let gpioa = dp.GPIOA.split(&mut rcc);
    let gpiob = dp.GPIOB.split(&mut rcc);
    let gpioc = dp.GPIOC.split(&mut rcc);
    let mut led = gpioc.pc13.into_push_pull_output();
    // The load-cut line: open drain, released (load on) until the seat cuts it; wired-AND with
    // the TMP105's ALERT on the load switch's enable (see `firmware/README.md`).
    let mut load_cut = gpiob.pb12.into_open_drain_output_in_state(PinState::High);
    // An unprovisioned production build never starts its UART: it stays off the bus.
    let mut port = if on_bus {
        let serial: Result<Serial<USART1>, _> = dp.USART1.serial(
            (gpioa.pa9, gpioa.pa10),
            serial::Config::default().baudrate(115_200.bps()),
            &mut rcc,
        );
        let Ok(serial) = serial else {
            // Only an impossible baud rate fails here; without a line the seat is useless, so
            // let the watchdog reset it (and say so in the next Hello).
            defmt::error!("USART1 configuration refused");
            loop {
                cortex_m::asm::wfi();
            }
        };
        // DE/RE of the RS-485 transceiver: high only while a frame is sent (until TC).
        let de = gpioa.pa8.into_push_pull_output_in_state(PinState::Low);
        let Some(queue) = cortex_m::singleton!(: Queue<u8, { rx::QUEUE_LEN + 1 }> = Queue::new()) else {
            loop {
                cortex_m::asm::wfi(); // unreachable: main runs once
            }
        };
        let (producer, consumer) = queue.split();
        // SAFETY: the interrupt is still masked; from here on only it touches the producer.
        unsafe { *core::ptr::addr_of_mut!(RX_PRODUCER) = Some(producer) };
        let mut serial = serial;
        serial.listen(serial::Event::RxNotEmpty);
        // SAFETY: the handler only touches USART1's receive side, the producer and the counters.
        unsafe { cortex_m::peripheral::NVIC::unmask(pac::Interrupt::USART1) };
        let rx = QueueRx::new(consumer);
        Some(Rs485::new(Port { serial, rx }, de))
    } else {
        None
    };
    // Bus clear at start-up, and after every failed transaction (a reset may have cut a read).
    let i2c = Recovering::new(I2c1Bus::new(dp.I2C1, gpiob.pb6, gpiob.pb7, &mut rcc));
    let sensor = Tmp105::new(i2c, DEFAULT_ADDRESS);
    let boot = BootInfo {
        board: BoardKind::BlackPillF411,
        reset,
        boot_id,
        provisioned,
    };
    // In a static (.bss), not on the stack, so the size report's static RAM is the real footprint.
    let Some(seat) = cortex_m::singleton!(: Seat<Tmp105<Recovering<I2c1Bus>>> = Seat::new(prov.seat, &prov.key, boot, sensor))
    else {
        loop {
            cortex_m::asm::wfi(); // unreachable: main runs once
        }
    };
    if !hse {
        defmt::error!("HSE crystal did not start: running from the HSI");
        seat.queue_event(FaultCode::CLOCK_FALLBACK, 0);
    }
    let mut main_loop = MainLoop::new();
    let mut rx_errors_seen = 0u32;
    let mut last_rx_report = 0u32;
    loop {
        // Line errors: logged and sent as a LINK_OVERRUN event (detail: the running total), at
        // most once a second so a noisy line cannot flood the bus with events.
        let errors = RX_ERRORS.snapshot();
        if errors.total() != rx_errors_seen && millis().wrapping_sub(last_rx_report) >= 1_000 {
            last_rx_report = millis();
            rx_errors_seen = errors.total();
            defmt::warn!("USART1 line errors: {}", errors);
            seat.queue_event(
                FaultCode::LINK_OVERRUN,
                rx_errors_seen.min(i16::MAX as u32) as i16,
            );
        }
        let out = match port.as_mut() {
            Some(port) => main_loop.pass(seat, clock.now(), port),
            None => main_loop.pass_off_the_bus(seat, clock.now()),
        };
        if out.feed_watchdog {
            watchdog.feed();
        }
        if out.load_cut {
            load_cut.set_low();
        } else {
            load_cut.set_high();
        }
        // PC13 LED is active low.
        if out.led {
            led.set_low();
        } else {
            led.set_high();
        }
        // The 1 kHz SysTick wakes the loop; USART1 holds one byte, so poll it before sleeping
        // only when nothing is pending (at 115200 baud a byte takes 87 µs: no WFI while busy).
        // A bus turn due before the next tick: spin on TIM2 to it (ending early if a byte
        // arrives: the bus is busy and the seat must hear it first).
        let pending = port
            .as_mut()
            .is_some_and(|p| embedded_io::ReadReady::read_ready(p).unwrap_or(true));
        if out.wake_at_us.saturating_sub(clock.now()) < 1_000 {
            while clock.now() < out.wake_at_us
                && !port
                    .as_mut()
                    .is_some_and(|p| embedded_io::ReadReady::read_ready(p).unwrap_or(true))
            {}
        } else if !pending {
            cortex_m::asm::wfi();
        }
    }
}

/// RCC_CSR reset flags (RM0383, "RCC clock control & status register (RCC_CSR)"; IWDGRSTF is `wdgrstf` in the PAC): which reset this was; then RMVF clears them so the next
/// boot reads its own.
fn take_reset_cause(rcc: &pac::RCC) -> ResetCause {
    let csr = rcc.csr().read();
    let cause = if csr.wdgrstf().bit_is_set() || csr.wwdgrstf().bit_is_set() {
        ResetCause::Watchdog
    } else if csr.sftrstf().bit_is_set() {
        ResetCause::Software
    } else if csr.porrstf().bit_is_set() {
        ResetCause::PowerOn
    } else if csr.borrstf().bit_is_set() {
        // BORRSTF is set by a POR as well ("set by hardware when a POR/PDR or BOR reset
        // occurs"): alone, it is a brown-out.
        ResetCause::BrownOut
    } else {
        ResetCause::External // NRST pin
    };
    rcc.csr().modify(|_, w| w.rmvf().set_bit());
    cause
}

/// The provisioning block as laid out by `memory.x`.
fn provision_block() -> &'static [u8] {
    extern "C" {
        static _provision_start: [u8; provision::BLOCK_LEN];
    }
    // SAFETY: the linker script places `_provision_start` at a mapped, read-only flash sector.
    unsafe { &*core::ptr::addr_of!(_provision_start) }
}

/// A boot identity from the unique ID and analog noise (see the crate docs).
fn boot_id(prov: &Provision, adc: &mut Adc<pac::ADC1>) -> u32 {
    let mut h = mix32(0x4857_0002, u32::from(prov.seat));
    let uid = Uid::get();
    h = mix32(h, u32::from(uid.x()) | u32::from(uid.y()) << 16);
    h = mix32(
        h,
        u32::from(uid.waf_num()) | u32::from_le_bytes(pad(uid.lot_num())),
    );
    adc.enable_temperature_and_vref();
    for i in 0..32u32 {
        let t = u32::from(adc.convert(&Temperature, SampleTime::Cycles_3));
        let v = u32::from(adc.convert(&Vref, SampleTime::Cycles_3));
        h = mix32(h, t << 16 ^ v ^ i << 28);
    }
    mix32(h, cortex_m::peripheral::SYST::get_current())
}

fn pad(lot: &str) -> [u8; 4] {
    let mut out = [0u8; 4];
    for (o, b) in out.iter_mut().zip(lot.bytes().rev()) {
        *o = b;
    }
    out
}

/// USART1 as the byte port the seat core polls (embedded-io `Read` + `ReadReady` + `Write`):
/// reception through the RXNE interrupt into [`RX_QUEUE`], transmission over the HAL's one-byte
/// `nb` interface with bounded waits.
struct Port {
    serial: Serial<USART1>,
    rx: QueueRx<'static>,
}

impl embedded_io::ErrorType for Port {
    type Error = serial::Error;
}

impl embedded_io::ReadReady for Port {
    fn read_ready(&mut self) -> Result<bool, serial::Error> {
        Ok(self.rx.read_ready().unwrap_or(false))
    }
}

impl embedded_io::Read for Port {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, serial::Error> {
        Ok(self.rx.read(buf).unwrap_or(0))
    }
}

/// The receive queue's producer, owned by the USART1 interrupt once `main` has put it here.
static mut RX_PRODUCER: Option<Producer<'static, u8>> = None;
/// Line errors seen by the USART1 interrupt.
static RX_ERRORS: RxCounters = RxCounters::new();

/// RXNE (and the error flags that come with it, RM0383 §19.6.1 "Status register (USART_SR)":
/// ORE bit 3, NF bit 2, FE bit 1, RXNE bit 5): count the errors, queue the byte. Reading SR then
/// DR clears all of them.
#[interrupt]
fn USART1() {
    // SAFETY: read-only access to USART1's SR and DR from its own interrupt; the main loop only
    // transmits (TXE/TC) and never reads DR.
    let usart = unsafe { &*pac::USART1::ptr() };
    let sr = usart.sr().read().bits();
    if sr & (1 << 3) != 0 {
        RX_ERRORS.note(LineError::Overrun);
    }
    if sr & (1 << 2) != 0 {
        RX_ERRORS.note(LineError::Noise);
    }
    if sr & (1 << 1) != 0 {
        RX_ERRORS.note(LineError::Framing);
    }
    if sr & (1 << 5 | 1 << 3) != 0 {
        let byte = usart.dr().read().bits() as u8;
        // SAFETY: only this interrupt touches the producer after `main` stored it (before
        // unmasking the interrupt).
        if let Some(p) = unsafe { (*core::ptr::addr_of_mut!(RX_PRODUCER)).as_mut() } {
            rx::on_byte(p, &RX_ERRORS, byte);
        }
    }
}

impl embedded_io::Write for Port {
    fn write(&mut self, buf: &[u8]) -> Result<usize, serial::Error> {
        for (i, &b) in buf.iter().enumerate() {
            // At 115200 baud a byte leaves in 87 µs; 100k polls is ~10 ms: a wedged transmitter.
            let mut spins = 0u32;
            loop {
                match embedded_hal_nb::serial::Write::write(&mut self.serial, b) {
                    Ok(()) => break,
                    Err(nb::Error::WouldBlock) if spins < 100_000 => spins += 1,
                    Err(nb::Error::WouldBlock) if i > 0 => return Ok(i),
                    Err(nb::Error::WouldBlock) => return Err(serial::Error::Other),
                    Err(nb::Error::Other(e)) => return Err(e),
                }
            }
        }
        Ok(buf.len())
    }

    /// Waits for the last byte to leave (TC), bounded like `write`.
    fn flush(&mut self) -> Result<(), serial::Error> {
        for _ in 0..100_000u32 {
            match embedded_hal_nb::serial::Write::flush(&mut self.serial) {
                Err(nb::Error::WouldBlock) => {}
                Ok(()) => return Ok(()),
                Err(nb::Error::Other(e)) => return Err(e),
            }
        }
        Err(serial::Error::Other)
    }
}

/// The clock security system saw the HSE fail (RM0383 §6.2.7): the core now runs from the HSI
/// with the PLL off, so SysTick and USART1 are off by the PLL's factor. Clear CSSF (RCC_CIR.CSSC)
/// and reset: the next boot finds no crystal, builds 96 MHz from the HSI and reports
/// `CLOCK_FALLBACK`.
#[exception]
unsafe fn NonMaskableInt() {
    // SAFETY: a write-only clear bit of RCC_CIR; the handler then resets the chip.
    unsafe { pac::RCC::steal() }.cir().write(|w| w.cssc().set_bit());
    defmt::error!("clock security system: HSE failed, resetting");
    cortex_m::peripheral::SCB::sys_reset();
}

/// TIM2's count extended to 64 bits: the seat's monotonic microsecond clock.
struct Micros {
    tim2: pac::TIM2,
    last: u32,
    high: u64,
}

impl Micros {
    fn now(&mut self) -> u64 {
        let c = self.tim2.cnt().read().bits();
        if c < self.last {
            self.high += 1 << 32;
        }
        self.last = c;
        self.high | u64::from(c)
    }
}

#[exception]
fn SysTick() {
    MILLIS.fetch_add(1, Ordering::Relaxed);
}

// The crash record, `take_crash()` and the panic and HardFault handlers.
hemiwatch_firmware::crash_handlers!();
