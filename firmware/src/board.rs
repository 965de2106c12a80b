//! What every board does around the seat core, so that a board crate only wires its pins: read
//! the provisioning block (saying loudly when it falls back to the demo key), and after each
//! [`Seat::poll`] decide whether to feed the watchdog and light the status LED.
//!
//! The board keeps the hardware: it feeds its own watchdog, drives its own LED (active high or
//! low) and sleeps as its UART allows.

use embedded_io::{Read, ReadReady, Write};

use crate::provision::{self, Provision};
use crate::seat::{Seat, Thermometer};

/// Blink period of the status LED while identifying, ms (2 Hz, lit for the first half).
pub const IDENTIFY_BLINK_MS: u32 = 500;

/// Reads the provisioning block, or falls back to the demo seat (see
/// [`provision::load_or_fallback`]), and logs which: a seat on the public demo key must be
/// impossible to miss in the log. The `bool` is whether the block was valid (`BootInfo::provisioned`).
pub fn load_provision(block: &[u8]) -> (Provision, bool) {
    let (prov, status) = provision::load_or_fallback(block);
    match status {
        Ok(()) => info!("provisioned as seat {}", prov.seat),
        Err(e) => error!(
            "UNPROVISIONED ({}): running as seat {} with the PUBLIC demo key",
            e, prov.seat
        ),
    }
    (prov, status.is_ok())
}

/// What the board does after one pass of its main loop.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct Outputs {
    /// Feed the watchdog: only while [`Seat::healthy`], so a stalled loop ends in a reset.
    pub feed_watchdog: bool,
    /// Light the status LED: steady in safe mode, blinking while identifying.
    pub led: bool,
    /// Cut the console's load (drive the load switch's enable low): in safe mode, i.e. on a
    /// local trip or the host's failover. The sensor's ALERT cuts it too, without the MCU.
    pub load_cut: bool,
}

/// The main loop's memory beyond the seat itself: the safe-mode state last logged, so a change is
/// logged once.
#[derive(Debug, Default)]
pub struct MainLoop {
    was_safe: bool,
}

impl MainLoop {
    /// A loop that has not run yet (the seat starts outside safe mode).
    pub const fn new() -> Self {
        Self { was_safe: false }
    }

    /// One pass at board time `now_ms`: polls the seat on `port`, logs a safe-mode change and
    /// says what the board does with its watchdog and LED.
    pub fn pass<S: Thermometer, P: Read + ReadReady + Write>(
        &mut self,
        seat: &mut Seat<S>,
        now_ms: u32,
        port: &mut P,
    ) -> Outputs {
        seat.poll(now_ms, port);
        let safe = seat.safe_mode();
        if safe != self.was_safe {
            warn!("safe mode {}", safe);
            self.was_safe = safe;
        }
        Outputs {
            feed_watchdog: seat.healthy(),
            led: safe || (seat.identify() && now_ms % IDENTIFY_BLINK_MS < IDENTIFY_BLINK_MS / 2),
            load_cut: safe,
        }
    }
}

#[cfg(test)]
mod tests {
    use core::convert::Infallible;

    use hemiwatch_protocol::{BoardKind, ResetCause};

    use super::*;
    use crate::provision::{BLOCK_LEN, FALLBACK_SEAT};
    use crate::seat::BootInfo;

    /// A line on which the host never speaks and everything sent is accepted.
    struct Quiet;

    impl embedded_io::ErrorType for Quiet {
        type Error = Infallible;
    }

    impl Read for Quiet {
        fn read(&mut self, _: &mut [u8]) -> Result<usize, Infallible> {
            Ok(0)
        }
    }

    impl ReadReady for Quiet {
        fn read_ready(&mut self) -> Result<bool, Infallible> {
            Ok(false)
        }
    }

    impl Write for Quiet {
        fn write(&mut self, buf: &[u8]) -> Result<usize, Infallible> {
            Ok(buf.len())
        }

        fn flush(&mut self) -> Result<(), Infallible> {
            Ok(())
        }
    }

    struct At(i16);

    impl Thermometer for At {
        fn read_centi(&mut self) -> Result<i16, ()> {
            Ok(self.0)
        }
    }

    #[test]
    fn an_erased_block_runs_the_demo_seat_unprovisioned() {
        let (prov, provisioned) = load_provision(&[0xFF; BLOCK_LEN]);
        assert_eq!(prov.seat, FALLBACK_SEAT);
        assert!(!provisioned);
    }

    #[test]
    fn a_healthy_seat_feeds_the_watchdog_with_the_led_off() {
        let (prov, provisioned) = load_provision(&[0xFF; BLOCK_LEN]);
        let boot = BootInfo {
            board: BoardKind::QemuLm3s6965,
            reset: ResetCause::PowerOn,
            boot_id: 1,
            provisioned,
        };
        let mut seat = Seat::new(prov.seat, &prov.key, boot, At(4_000));
        let mut main_loop = MainLoop::new();
        for now in [0, 10, 1_000] {
            let out = main_loop.pass(&mut seat, now, &mut Quiet);
            assert_eq!(
                out,
                Outputs {
                    feed_watchdog: true,
                    led: false,
                    load_cut: false,
                },
                "at {now} ms"
            );
        }
    }

    #[test]
    fn a_local_trip_cuts_the_load_and_lights_the_led() {
        let boot = BootInfo {
            board: BoardKind::QemuLm3s6965,
            reset: ResetCause::PowerOn,
            boot_id: 1,
            provisioned: true,
        };
        let mut seat = Seat::new(1, &hemiwatch_protocol::SeatKey([7; 16]), boot, At(9_500));
        let mut main_loop = MainLoop::new();
        let mut out = main_loop.pass(&mut seat, 0, &mut Quiet);
        assert!(!out.load_cut, "one conversion is not yet a trip");
        let mut now = 0;
        while !out.load_cut && now < 10_000 {
            now += 100;
            out = main_loop.pass(&mut seat, now, &mut Quiet);
        }
        assert!(out.load_cut && out.led && seat.safe_mode(), "cut at {now} ms");
        seat.sensor_mut().0 = 2_500;
        while out.load_cut && now < 20_000 {
            now += 100;
            out = main_loop.pass(&mut seat, now, &mut Quiet);
        }
        assert!(!out.load_cut && !seat.safe_mode(), "released at {now} ms");
    }
}
