//! # hemiwatch-firmware — the board-independent seat firmware core
//!
//! Every seat console of the hemicycle runs this crate on a small Cortex-M board: it measures the
//! console's temperature, proves it is alive with authenticated frames (the protocol crate's
//! [`SeatLink`](hemiwatch_protocol::SeatLink)), obeys the host's commands and protects itself with
//! a local thermal trip when the host or the link is gone.
//!
//! It is `no_std`, uses no heap (every buffer is a fixed array or a `heapless` container) and has
//! no panic path in the main loop: sensor and link errors become flags and events. It knows no
//! board: a board crate (`boards/qemu-lm3s6965`, `boards/blackpill-f411`) wires a UART
//! (embedded-io), an I2C bus (embedded-hal 1.0), a millisecond clock and a watchdog, then runs
//! [`board::MainLoop::pass`] (which calls [`seat::Seat::poll`]) forever. That split is what lets the whole logic be unit-tested on the
//! host (`cargo test -p hemiwatch-firmware`) and run unchanged in QEMU and on the real board.
//!
//! - [`analog`]: the MCU's supply (VDDA from VREFINT) and die temperature, from raw ADC conversions;
//! - [`crash`]: the panic / HardFault record kept across the reset (magic + CRC-32);
//! - [`i2c_bus`]: I2C bus recovery (bus clear over GPIO, recovery after every failed transaction);
//! - [`tmp105`]: the TMP105 temperature sensor driver (12-bit, no repeated START);
//! - [`seat`]: the seat state machine (hello/session, telemetry, commands, trip, faults);
//! - [`rx`]: interrupt-driven UART reception into a queue, with line-error counters;
//! - [`rs485`]: the RS-485 driver enable, on only while transmitting;
//! - [`tx`]: interrupt-driven UART transmission from a queue, DE dropped at transmission complete;
//! - [`provision`]: the per-board provisioning block (seat id and key) and its fallback;
//! - [`boot_count`]: the boot counter kept in flash and mixed into the boot identity;
//! - [`board`]: what every board does around [`seat::Seat::poll`] (provisioning log, watchdog
//!   and LED decisions), so the board crates only wire pins.
//!
//! With the `defmt` feature the core logs its state changes through `defmt` (see the `fmt` shim:
//! without the feature the logging macros compile to nothing).

#![no_std]
#![deny(missing_docs)]

#[cfg(test)]
#[macro_use]
extern crate std;

// Must go first: the logging macros are visible only to the modules declared after it.
mod fmt;

pub mod analog;
pub mod board;
pub mod boot_count;
pub mod crash;
pub mod i2c_bus;
pub mod provision;
pub mod rs485;
pub mod rx;
pub mod seat;
pub mod tmp105;
pub mod tx;

use hemiwatch_protocol::FirmwareVersion;

pub use seat::{BootInfo, Config, Seat, Thermometer};

/// This image's version, reported in `Hello` so technicians can see a mixed fleet; taken from the
/// crate version so it cannot drift from the release tag.
pub const FIRMWARE_VERSION: FirmwareVersion = FirmwareVersion {
    major: parse_u8(env!("CARGO_PKG_VERSION_MAJOR")),
    minor: parse_u8(env!("CARGO_PKG_VERSION_MINOR")),
    patch: parse_u8(env!("CARGO_PKG_VERSION_PATCH")),
};

/// Decimal string to `u8` at compile time (saturating; the version parts are small numbers).
const fn parse_u8(s: &str) -> u8 {
    let b = s.as_bytes();
    let mut i = 0;
    let mut v: u32 = 0;
    while i < b.len() {
        if b[i].is_ascii_digit() {
            v = v * 10 + (b[i] - b'0') as u32;
        }
        i += 1;
    }
    if v > 255 {
        255
    } else {
        v as u8
    }
}

/// A mixing function for boards to turn weak entropy (timer jitter, ADC noise, wall-clock time)
/// into a boot id: the 32-bit finaliser of MurmurHash3, so every input bit flips about half the
/// output bits and two boots that differ in one jitter bit get unrelated ids.
pub const fn mix32(mut h: u32, v: u32) -> u32 {
    h ^= v;
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^= h >> 16;
    h
}
