//! The hardware-in-the-loop rig: the real seat firmware ELF (`firmware/boards/qemu-lm3s6965`)
//! booted in QEMU's lm3s6965evb with an emulated TMP105, its UART0 on a real pty, its sensor
//! driven over QMP, and the test playing the host with the protocol crate's [`HostLink`](hemiwatch_protocol::HostLink).
//!
//! ```text
//!  test ── HostSide (HostLink) ── pty ── QEMU: UART0 ─ seat firmware ─ I2C0 ─ TMP105
//!    └──────────────── QMP socket: qom-set temperature ─────────────────────────┘
//! ```
//!
//! Each [`QemuSeat`] gets its own provisioning block (`-device loader` at `0x3FC00`), so several
//! run side by side with distinct seat ids and keys. Its QEMU runs in a process group of its own
//! that is killed when the handle drops: a failing test leaves no emulator behind.
//!
//! The rig is split by job: [`build`] finds and builds the board ELF, [`process`] runs QEMU and
//! owns its UART, [`qmp`] talks to QEMU's monitor (the pty it chose, the sensor's temperature),
//! and [`host_side`] plays the host's end of the link.

pub mod build;
pub mod host_side;
pub mod process;
pub mod qmp;

pub use build::{board_dir, firmware_elf};
pub use host_side::{HostSide, Received};
pub use process::{Chunk, QemuSeat, Uart, PROVISION_ADDR};
