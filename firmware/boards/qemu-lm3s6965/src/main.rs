//! # hemiwatch-board-qemu — the seat firmware on QEMU's lm3s6965evb
//!
//! The hardware-in-the-loop rig of CI: the real seat core ([`hemiwatch_firmware`]) on an emulated
//! Cortex-M3 with a TMP105 on I2C0. This file only wires the board: clocks, UART0 (the seat
//! line, behind the core's RS-485 driver enable on PB1), I2C0 (the sensor), SysTick (the clock:
//! milliseconds by interrupt, microseconds from its current value), the watchdog, the
//! provisioning block and the boot identity; then it runs the core's main loop
//! ([`MainLoop::pass`]) forever.
//! - **Bus turns**: the seat transmits only in its turn, a fraction of a millisecond after the
//!   bus fell silent ([`hemiwatch_firmware::seat`]). The loop sleeps (`wfi`) until the next
//!   SysTick or received byte, but when the seat's deadline ([`Outputs::wake_at_us`]) falls
//!   before the next tick it spins on the µs clock until it, so a turn starts on time instead of
//!   at the next millisecond.
//!
//! - **Provisioning**: a [`provision`] block in the last 1 KiB flash page (`0x3FC00`, see
//!   `memory.x`). The rig writes one per QEMU instance with
//!   `-device loader,file=prov.bin,addr=0x3FC00,force-raw=on`. Without one (erased flash) the
//!   seat runs as seat 1 with the public demo key, logs an error and reports `UNPROVISIONED`
//!   — with the `demo` feature, on by default for this rig board; without it (production
//!   behaviour) it stays off the bus, keeps its local trip and flashes its LED.
//! - **Boot identity**: 4 bytes of the host's `/dev/urandom` read over semihosting, mixed with the
//!   host's clock (`SYS_TIME`, `SYS_CLOCK`) and the SysTick count at that moment, so every QEMU
//!   start — even two in the same second — gets a new `boot_id`.
//! - **Watchdog**: started first, before the clock set-up; WDT0 (QEMU emulates it as `luminary-watchdog`) is fed only while
//!   [`Seat::healthy`]; its first time-out interrupt leaves a marker in RAM that survives the
//!   reset (QEMU's system reset does not clear RAM; a real chip also sets RESC.WDT), so the next
//!   `Hello` says `ResetCause::Watchdog`.
//! - **Logs**: defmt over semihosting (`-semihosting-config enable=on,target=native`), decoded
//!   with `defmt-print -e <elf>`.

#![no_std]
#![no_main]

mod stellaris;

use core::sync::atomic::{AtomicU32, Ordering};

use cortex_m::peripheral::syst::SystClkSource;
use cortex_m_rt::{entry, exception};
use defmt_semihosting as _;
use heapless::spsc::{Producer, Queue};
use hemiwatch_firmware::board::{self, MainLoop};
use hemiwatch_firmware::i2c_bus::Recovering;
use hemiwatch_firmware::provision::{self, Provision};
use hemiwatch_firmware::rs485::Rs485;
use hemiwatch_firmware::rx::{self, QueueRx, RxCounters};
use hemiwatch_firmware::tmp105::{Tmp105, DEFAULT_ADDRESS};
use hemiwatch_firmware::{mix32, BootInfo, Seat};
use hemiwatch_protocol::{BoardKind, FaultCode, ResetCause};
use lm3s6965::{interrupt, Interrupt};

use stellaris::{gpio, sysctl, watchdog, I2c0, Uart0};

/// Milliseconds since boot, advanced by the SysTick handler.
static MILLIS: AtomicU32 = AtomicU32::new(0);

/// Left in RAM by the watchdog's first time-out; `.uninit` is not zeroed by cortex-m-rt at boot.
#[link_section = ".uninit.WATCHDOG_MARK"]
static mut WATCHDOG_MARK: core::mem::MaybeUninit<u32> = core::mem::MaybeUninit::uninit();
const WATCHDOG_MAGIC: u32 = 0xD06_B17E;

/// First watchdog time-out: a stalled loop gets this long before the interrupt, and as long
/// again before the reset.
const WATCHDOG_MS: u32 = 2_000;

defmt::timestamp!("{=u32:ms}", MILLIS.load(Ordering::Relaxed));

fn millis() -> u32 {
    MILLIS.load(Ordering::Relaxed)
}

/// SysTick counts down from this once per millisecond (50 MHz core clock).
const SYST_RELOAD: u32 = sysctl::SYSCLK_HZ / 1_000 - 1;

/// The board's microsecond clock for the seat: the millisecond count extended to 64 bits, plus
/// how far SysTick has counted down into the current millisecond (ARMv7-M ARM §B3.3, SYST_CVR).
struct Micros {
    last_ms: u32,
    ms: u64,
}

impl Micros {
    const fn new() -> Self {
        Self { last_ms: 0, ms: 0 }
    }

    fn now(&mut self) -> u64 {
        loop {
            let m = millis();
            let cvr = cortex_m::peripheral::SYST::get_current();
            if millis() != m {
                continue; // the tick came in between: read again
            }
            self.ms += u64::from(m.wrapping_sub(self.last_ms));
            self.last_ms = m;
            let sub_us = (SYST_RELOAD - cvr.min(SYST_RELOAD)) / (sysctl::SYSCLK_HZ / 1_000_000);
            return self.ms * 1_000 + u64::from(sub_us);
        }
    }
}

#[entry]
fn main() -> ! {
    let Some(mut cp) = cortex_m::Peripherals::take() else {
        // Unreachable (the entry runs once); without the peripherals nothing can be done and
        // the watchdog is not running yet, so park.
        loop {
            cortex_m::asm::wfi();
        }
    };
    // The watchdog first: nothing after this point (clock set-up included) can hang the seat for
    // good. Its clock gate comes with the others; LOAD is counted in system clocks, so until the
    // PLL runs (from the reset clock, slower than 50 MHz) the first time-out is only longer.
    sysctl::enable_peripherals();
    let crashed = take_crash().is_some();
    let (watchdog_flag, brown_out) = sysctl::take_reset_cause();
    let watchdog_reset = take_watchdog_mark() | watchdog_flag;
    watchdog::start(WATCHDOG_MS);
    // SAFETY: the handler only touches the marker and the watchdog's interrupt mask.
    unsafe { cortex_m::peripheral::NVIC::unmask(Interrupt::WATCHDOG_TIMER_0) };
    sysctl::clock_50mhz();
    gpio::init();

    // 1 ms SysTick from the 50 MHz core clock (ARMv7-M ARM §B3.3 "The system timer, SysTick").
    cp.SYST.set_clock_source(SystClkSource::Core);
    cp.SYST.set_reload(SYST_RELOAD);
    cp.SYST.clear_current();
    cp.SYST.enable_interrupt();
    cp.SYST.enable_counter();

    let (prov, provisioned) = board::load_provision(provision_block(), cfg!(feature = "demo"));
    let on_bus = board::joins_bus(provisioned, cfg!(feature = "demo"));
    let boot_id = boot_id(&prov);
    let reset = if crashed {
        ResetCause::Panic
    } else if watchdog_reset {
        ResetCause::Watchdog
    } else if brown_out {
        ResetCause::BrownOut
    } else {
        ResetCause::PowerOn
    };
    defmt::info!("boot {=u32:#010x}, reset {}", boot_id, reset);

    // An unprovisioned build without `demo` never starts its UART: it stays off the bus.
    let mut uart = on_bus
        .then(|| {
            let queue = cortex_m::singleton!(: Queue<u8, { rx::QUEUE_LEN + 1 }> = Queue::new());
            let (producer, consumer) = queue?.split();
            // SAFETY: the interrupt is still masked; from here on only it touches the producer.
            unsafe { *core::ptr::addr_of_mut!(RX_PRODUCER) = Some(producer) };
            let uart = Rs485::new(Uart0::init(QueueRx::new(consumer)), gpio::De::init());
            // SAFETY: the handler only touches UART0's receive side, the producer and the counters.
            unsafe { cortex_m::peripheral::NVIC::unmask(Interrupt::UART0) };
            Some(uart)
        })
        .flatten();
    // Bus clear at start-up, and after every failed transaction (a reset may have cut a read).
    let sensor = Tmp105::new(Recovering::new(I2c0::init()), DEFAULT_ADDRESS);
    let boot = BootInfo {
        board: BoardKind::QemuLm3s6965,
        reset,
        boot_id,
        provisioned,
    };
    // In a static (.bss), not on the stack, so the size report's static RAM is the real footprint.
    let Some(seat) = cortex_m::singleton!(: Seat<Tmp105<Recovering<I2c0>>> = Seat::new(prov.seat, &prov.key, boot, sensor))
    else {
        loop {
            cortex_m::asm::wfi(); // unreachable: main runs once
        }
    };
    let mut main_loop = MainLoop::new();
    let mut clock = Micros::new();
    let (mut rx_errors_seen, mut last_rx_report) = (0u32, 0u32);
    loop {
        // Line errors: logged and sent as a LINK_OVERRUN event (detail: the running total), at
        // most once a second so a noisy line cannot flood the bus with events.
        let errors = RX_ERRORS.snapshot();
        if errors.total() != rx_errors_seen && millis().wrapping_sub(last_rx_report) >= 1_000 {
            last_rx_report = millis();
            rx_errors_seen = errors.total();
            defmt::warn!("UART0 line errors: {}", errors);
            seat.queue_event(
                FaultCode::LINK_OVERRUN,
                rx_errors_seen.min(i16::MAX as u32) as i16,
            );
        }
        let out = match uart.as_mut() {
            Some(uart) => main_loop.pass(seat, clock.now(), uart),
            None => main_loop.pass_off_the_bus(seat, clock.now()),
        };
        if out.feed_watchdog {
            feed_watchdog();
        }
        gpio::led(out.led);
        gpio::load_cut(out.load_cut);
        // A deadline before the next tick (a bus turn): spin to it. Otherwise sleep until the
        // next SysTick or received byte (the UART0 interrupt wakes the core).
        let now = clock.now();
        if out.wake_at_us.saturating_sub(now) < 1_000 {
            while clock.now() < out.wake_at_us && !RX_PENDING.swap(false, Ordering::Relaxed) {}
        } else {
            cortex_m::asm::wfi();
        }
    }
}

/// The provisioning block as laid out by `memory.x`.
fn provision_block() -> &'static [u8] {
    extern "C" {
        static _provision_start: [u8; provision::BLOCK_LEN];
    }
    // SAFETY: the linker script places `_provision_start` at a mapped, read-only flash page.
    unsafe { &*core::ptr::addr_of!(_provision_start) }
}

/// A boot identity that differs across QEMU starts (see the crate docs).
fn boot_id(prov: &Provision) -> u32 {
    let mut h = mix32(0x4857_0001, u32::from(prov.seat));
    let mut rnd = [0u8; 4];
    if semihosting::experimental::random::fill_bytes(&mut rnd).is_ok() {
        h = mix32(h, u32::from_le_bytes(rnd));
    } else {
        defmt::warn!("no host entropy: boot id from clocks only");
    }
    use semihosting::sys::arm_compat::{sys_clock, sys_time};
    h = mix32(h, sys_time().unwrap_or(0) as u32);
    h = mix32(h, cortex_m::peripheral::SYST::get_current());
    h = mix32(h, sys_clock().unwrap_or(0) as u32);
    mix32(h, cortex_m::peripheral::SYST::get_current())
}

fn take_watchdog_mark() -> bool {
    let p = core::ptr::addr_of_mut!(WATCHDOG_MARK).cast::<u32>();
    // SAFETY: a plain word in RAM that only this function and the watchdog handler touch; any
    // bit pattern is a valid u32.
    unsafe {
        let fired = p.read_volatile() == WATCHDOG_MAGIC;
        p.write_volatile(0);
        fired
    }
}

fn feed_watchdog() {
    watchdog::feed();
    // A handled first time-out masked the interrupt; a fed watchdog is armed again.
    let p = core::ptr::addr_of_mut!(WATCHDOG_MARK).cast::<u32>();
    // SAFETY: see `take_watchdog_mark`.
    unsafe {
        if p.read_volatile() == WATCHDOG_MAGIC {
            p.write_volatile(0);
            cortex_m::peripheral::NVIC::unmask(Interrupt::WATCHDOG_TIMER_0);
        }
    }
}

/// The receive queue's producer, owned by the UART0 interrupt once `main` has put it here.
static mut RX_PRODUCER: Option<Producer<'static, u8>> = None;
/// Line errors seen by the UART0 interrupt.
static RX_ERRORS: RxCounters = RxCounters::new();

/// Set by the UART0 interrupt: a byte arrived (ends a spin towards a turn: the bus is busy).
static RX_PENDING: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

#[interrupt]
fn UART0() {
    RX_PENDING.store(true, Ordering::Relaxed);
    // SAFETY: only this interrupt touches the producer after `main` stored it (before unmasking).
    if let Some(p) = unsafe { (*core::ptr::addr_of_mut!(RX_PRODUCER)).as_mut() } {
        Uart0::on_interrupt(p, &RX_ERRORS);
    }
}

#[exception]
fn SysTick() {
    MILLIS.fetch_add(1, Ordering::Relaxed);
}

#[interrupt]
fn WATCHDOG_TIMER_0() {
    if watchdog::timed_out() {
        // SAFETY: see `take_watchdog_mark`.
        unsafe {
            core::ptr::addr_of_mut!(WATCHDOG_MARK)
                .cast::<u32>()
                .write_volatile(WATCHDOG_MAGIC)
        };
        // Leave the interrupt pending so the second time-out resets the chip, and stop taking
        // it meanwhile so a loop that recovers can still feed.
        cortex_m::peripheral::NVIC::mask(Interrupt::WATCHDOG_TIMER_0);
        defmt::error!("watchdog: main loop stalled, reset in {=u32} ms", WATCHDOG_MS);
    }
}

// The crash record, `take_crash()` and the panic and HardFault handlers.
hemiwatch_firmware::crash_handlers!();
