//! Fault injection for the hardware-in-the-loop rig, compiled only with the board's
//! `fault-injection` feature: the rig (`tests/src/qemu/build.rs`) builds its ELF with it, no
//! production build has it (the Black Pill has no such feature at all).
//!
//! The trigger is an `Identify` command with a magic duration, so only a host holding the seat's
//! key can fire it (the frame must verify like any command): the HIL tests use it to prove that a
//! panic and a stalled main loop leave the evidence the README promises — `ResetCause::Panic`
//! with a `CRASHED` event carrying the panic's line, and `ResetCause::Watchdog` after the
//! watchdog's reset.

/// `Identify{seconds: 251}`: panic right here (its line is what the `CRASHED` event reports).
pub const PANIC_SECONDS: u8 = 251;
/// `Identify{seconds: 252}`: stop the main loop for good — interrupts still run, nothing feeds
/// the watchdog, which resets the board after its two time-outs (2 s + 2 s).
pub const STALL_SECONDS: u8 = 252;

/// Acts on an `Identify`'s duration: a magic one injects its fault, any other does nothing here.
pub fn on_identify(seconds: u8) {
    match seconds {
        PANIC_SECONDS => panic!("fault injection: panic"),
        STALL_SECONDS => {
            defmt::warn!("fault injection: main loop stalled");
            loop {
                cortex_m::asm::wfi();
            }
        }
        _ => {}
    }
}
