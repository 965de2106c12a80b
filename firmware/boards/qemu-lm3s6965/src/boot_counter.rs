//! The boot counter on the rig (see [`hemiwatch_firmware::boot_count`]).
//!
//! QEMU 7.2 does not emulate the lm3s6965's flash controller: `info mtree` shows its
//! `flash-control` region at `0x400F_D000` as an unimplemented device, and the flash is ROM, so
//! the firmware cannot program a counter the way the Black Pill does. What the rig can model is
//! what a flasher would leave behind: the test harness counts the QEMU starts and writes each
//! start's number into the last word of the provisioning page (`_boot_count_word`, `memory.x`)
//! with `-device loader`, and the board reads it here.

/// Words that mean "no count written": erased flash, or ROM QEMU left zeroed.
const UNSET: [u32; 2] = [0, 0xFFFF_FFFF];

/// This boot's number as the rig wrote it, or `None` when it wrote none.
pub fn boot_count() -> Option<u32> {
    extern "C" {
        static _boot_count_word: u32;
    }
    // SAFETY: the linker script places `_boot_count_word` at the last, aligned word of the
    // provisioning page, mapped read-only flash; any bit pattern is a valid u32.
    let n = unsafe { core::ptr::addr_of!(_boot_count_word).read_volatile() };
    (!UNSET.contains(&n)).then_some(n)
}
