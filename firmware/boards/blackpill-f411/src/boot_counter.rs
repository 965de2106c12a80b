//! The boot counter's flash sector on the STM32F411 (see [`hemiwatch_firmware::boot_count`]).
//!
//! Sector 6 (128 KiB at `0x0804_0000`, `memory.x`) holds the counter's log, one 32-bit word per
//! boot. Programming and erasing follow RM0383 §3.5 ("Flash program and erase operations"):
//! unlock with the two `FLASH_KEYR` keys, wait for `BSY` to clear, set `PSIZE` to x32 (valid from
//! 2.7 V to 3.6 V, the board's 3.3 V rail), then `PG` and a word write, or `SER` + `SNB` + `STRT`
//! for a sector erase; wait for `BSY`; check the error flags; lock again. Every wait is bounded:
//! a flash that never finishes costs a boot count, not the seat.

use hemiwatch_firmware::boot_count::WordFlash;
use stm32f4xx_hal::pac::FLASH;

/// Keys that unlock `FLASH_CR` (RM0383 §3.5.1, "Unlocking the Flash control register").
const KEY1: u32 = 0x4567_0123;
const KEY2: u32 = 0xCDEF_89AB;
/// The sector of the counter (RM0383 Table 5, "Flash module organization": sector 6 is
/// 128 KiB at `0x0804_0000`).
const SECTOR: u8 = 6;
/// Polls of `BSY` before giving up. A word programs in at most 100 µs and a 128 KiB sector
/// erases in at most 2 s at x32 (DS10314, "Flash memory programming"); while the flash is busy
/// a fetch from it stalls the core, so each poll lasts at least one flash access: 50 M polls of
/// at least ~40 ns (the 96 MHz core with 3 wait states) are more than the 2 s.
const MAX_POLLS: u32 = 50_000_000;

/// Why the counter could not be advanced.
#[derive(Copy, Clone, Debug, defmt::Format)]
pub enum FlashError {
    /// `BSY` did not clear within [`MAX_POLLS`].
    TimedOut,
    /// An error flag of `FLASH_SR` was set (the register's bits).
    Failed(u32),
}

/// The counter's sector, with the watchdog feed to call before a long operation.
pub struct CounterSector<'a, F: FnMut()> {
    flash: &'a FLASH,
    base: *const u32,
    feed: F,
}

impl<'a, F: FnMut()> CounterSector<'a, F> {
    /// The sector at `base` (the linker's `_boot_count_start`), programmed through `flash`.
    pub fn new(flash: &'a FLASH, base: *const u32, feed: F) -> Self {
        Self { flash, base, feed }
    }

    fn wait(&self) -> Result<(), FlashError> {
        for _ in 0..MAX_POLLS {
            if self.flash.sr().read().bsy().bit_is_clear() {
                let sr = self.flash.sr().read();
                // PGSERR | PGPERR | PGAERR | WRPERR | OPERR (RM0383 §3.8.4).
                let errors = sr.bits() & 0b1111_0010;
                if errors != 0 {
                    self.flash.sr().write(|w| {
                        w.pgserr()
                            .clear()
                            .pgperr()
                            .clear()
                            .pgaerr()
                            .clear()
                            .wrperr()
                            .clear()
                            .operr()
                            .clear()
                    });
                    return Err(FlashError::Failed(errors));
                }
                return Ok(());
            }
        }
        Err(FlashError::TimedOut)
    }

    fn unlocked<T>(&mut self, op: impl FnOnce(&mut Self) -> Result<T, FlashError>) -> Result<T, FlashError> {
        self.wait()?;
        if self.flash.cr().read().lock().bit_is_set() {
            self.flash.keyr().write(|w| w.key().set(KEY1));
            self.flash.keyr().write(|w| w.key().set(KEY2));
        }
        let r = op(self);
        self.flash
            .cr()
            .modify(|_, w| w.pg().clear_bit().ser().clear_bit().lock().set_bit());
        r
    }
}

impl<F: FnMut()> WordFlash for CounterSector<'_, F> {
    type Error = FlashError;

    fn words(&self) -> usize {
        128 * 1024 / 4
    }

    fn read(&self, index: usize) -> u32 {
        // SAFETY: `index` < words(): inside the sector the linker script reserves for the counter.
        unsafe { self.base.add(index).read_volatile() }
    }

    fn program(&mut self, index: usize, value: u32) -> Result<(), FlashError> {
        let addr = self.base.wrapping_add(index) as *mut u32;
        self.unlocked(|s| {
            s.flash.cr().modify(|_, w| w.psize().psize32().pg().set_bit());
            // SAFETY: an erased word of the counter's sector, with PG set: the flash interface
            // programs it (RM0383 §3.5.4, "Programming").
            unsafe { addr.write_volatile(value) };
            s.wait()
        })
    }

    fn erase(&mut self) -> Result<(), FlashError> {
        (self.feed)();
        self.unlocked(|s| {
            s.flash.cr().modify(|_, w| {
                // SAFETY: sector numbers 0..=7 exist on the STM32F411CE; 6 is the counter's.
                unsafe { w.psize().psize32().ser().set_bit().snb().bits(SECTOR) }
            });
            s.flash.cr().modify(|_, w| w.strt().set_bit());
            s.wait()
        })
    }
}
