//! # hemiwatch-tests — the end-to-end rig
//!
//! Helpers for tests that run the real parts together: the real seat firmware in QEMU, real ptys,
//! the real `hemiwatch` daemon as a process, a real Alertmanager, a real headless Chromium. The
//! tests themselves live in `tests/tests/`.

pub mod bus;
pub mod harness;
pub mod proxy;
pub mod qemu;
pub mod wire;
