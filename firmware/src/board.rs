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

/// Blink of an unprovisioned seat kept off the bus: a 100 ms flash every second, unlike any
/// other LED state (steady = safe mode, 2 Hz = identify).
pub const OFF_BUS_FLASH_MS: (u32, u32) = (100, 1_000);

/// Reads the provisioning block, or falls back to the demo seat (see
/// [`provision::load_or_fallback`]), and logs which: a seat on the public demo key must be
/// impossible to miss in the log. The `bool` is whether the block was valid (`BootInfo::provisioned`).
/// `demo` is whether this build may run the demo seat on the bus (see [`joins_bus`]).
pub fn load_provision(block: &[u8], demo: bool) -> (Provision, bool) {
    let (prov, status) = provision::load_or_fallback(block);
    match status {
        Ok(()) => info!("provisioned as seat {}", prov.seat),
        Err(e) if demo => error!(
            "UNPROVISIONED ({}): running as seat {} with the PUBLIC demo key",
            e, prov.seat
        ),
        Err(e) => error!(
            "UNPROVISIONED ({}): staying off the bus (local trip only); build with `demo` to run the demo seat",
            e
        ),
    }
    (prov, status.is_ok())
}

/// Whether the seat may speak on the bus. An unprovisioned board of a production build must not:
/// as seat 1 on the public demo key it would collide with the real seat 1 and accept commands
/// anyone can forge. Only a build with the board's `demo` feature (the QEMU rig, a bench) runs
/// the demo seat; otherwise the board leaves its UART off, keeps measuring and tripping, and
/// flashes [`OFF_BUS_FLASH_MS`].
pub const fn joins_bus(provisioned: bool, demo: bool) -> bool {
    provisioned || demo
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
    /// When to run the next pass at the latest (board µs), if no byte arrives first: the seat's
    /// [`Seat::next_wakeup`], and often enough for the LED's blink. The board arms a timer for it.
    pub wake_at_us: u64,
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

    /// One pass at board time `now_us` (µs, monotonic): polls the seat on `port`, logs a
    /// safe-mode change and says what the board does with its watchdog and LED. Call it again
    /// when a byte arrives or at [`Outputs::wake_at_us`], whichever comes first.
    pub fn pass<S: Thermometer, P: Read + ReadReady + Write>(
        &mut self,
        seat: &mut Seat<S>,
        now_us: u64,
        port: &mut P,
    ) -> Outputs {
        seat.poll(now_us, port);
        let now_ms = (now_us / 1_000) as u32;
        let safe = seat.safe_mode();
        if safe != self.was_safe {
            warn!("safe mode {}", safe);
            self.was_safe = safe;
        }
        Outputs {
            feed_watchdog: seat.healthy(),
            led: safe || (seat.identify() && now_ms % IDENTIFY_BLINK_MS < IDENTIFY_BLINK_MS / 2),
            load_cut: safe,
            wake_at_us: seat
                .next_wakeup()
                .min(now_us + u64::from(IDENTIFY_BLINK_MS / 2) * 1_000),
        }
    }
}

/// The port of a seat kept off the bus: nothing is ever received, and what the seat would send
/// goes nowhere (the board never even starts its UART).
#[derive(Debug, Default)]
pub struct OffTheBus;

impl embedded_io::ErrorType for OffTheBus {
    type Error = core::convert::Infallible;
}

impl Read for OffTheBus {
    fn read(&mut self, _: &mut [u8]) -> Result<usize, Self::Error> {
        Ok(0)
    }
}

impl ReadReady for OffTheBus {
    fn read_ready(&mut self) -> Result<bool, Self::Error> {
        Ok(false)
    }
}

impl Write for OffTheBus {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

impl MainLoop {
    /// One pass of a seat kept off the bus (see [`joins_bus`]): the seat still samples, trips
    /// and cuts the load; the LED is steady in safe mode, else flashes [`OFF_BUS_FLASH_MS`].
    pub fn pass_off_the_bus<S: Thermometer>(&mut self, seat: &mut Seat<S>, now_us: u64) -> Outputs {
        let out = self.pass(seat, now_us, &mut OffTheBus);
        let now_ms = (now_us / 1_000) as u32;
        let (on, period) = OFF_BUS_FLASH_MS;
        Outputs {
            led: seat.safe_mode() || now_ms % period < on,
            ..out
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
        let (prov, provisioned) = load_provision(&[0xFF; BLOCK_LEN], true);
        assert_eq!(prov.seat, FALLBACK_SEAT);
        assert!(!provisioned);
    }

    #[test]
    fn a_healthy_seat_feeds_the_watchdog_with_the_led_off() {
        let (prov, provisioned) = load_provision(&[0xFF; BLOCK_LEN], true);
        let boot = BootInfo {
            board: BoardKind::QemuLm3s6965,
            reset: ResetCause::PowerOn,
            boot_id: 1,
            provisioned,
        };
        let mut seat = Seat::new(prov.seat, &prov.key, boot, At(4_000));
        let mut main_loop = MainLoop::new();
        for now in [0, 10, 1_000] {
            let out = main_loop.pass(&mut seat, now * 1_000, &mut Quiet);
            assert_eq!(
                (out.feed_watchdog, out.led, out.load_cut),
                (true, false, false),
                "at {now} ms"
            );
            assert!(
                out.wake_at_us > now * 1_000,
                "a wake-up ahead at {now} ms: {out:?}"
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
            out = main_loop.pass(&mut seat, now * 1_000, &mut Quiet);
        }
        assert!(out.load_cut && out.led && seat.safe_mode(), "cut at {now} ms");
        seat.sensor_mut().0 = 2_500;
        while out.load_cut && now < 20_000 {
            now += 100;
            out = main_loop.pass(&mut seat, now * 1_000, &mut Quiet);
        }
        assert!(!out.load_cut && !seat.safe_mode(), "released at {now} ms");
    }

    #[test]
    fn only_a_provisioned_seat_or_a_demo_build_joins_the_bus() {
        assert!(joins_bus(true, false));
        assert!(joins_bus(true, true));
        assert!(joins_bus(false, true), "the QEMU rig and bench builds");
        assert!(
            !joins_bus(false, false),
            "a production build without a block stays off"
        );
        let (_, provisioned) = load_provision(&[0xFF; BLOCK_LEN], false);
        assert!(!provisioned);
    }

    #[test]
    fn off_the_bus_the_seat_still_trips_and_cuts_the_load_and_flashes_its_led() {
        let boot = BootInfo {
            board: BoardKind::BlackPillF411,
            reset: ResetCause::PowerOn,
            boot_id: 1,
            provisioned: false,
        };
        let mut seat = Seat::new(
            FALLBACK_SEAT,
            &hemiwatch_protocol::SeatKey([0; 16]),
            boot,
            At(2_500),
        );
        let mut main_loop = MainLoop::new();
        let leds: std::vec::Vec<bool> = (0..20)
            .map(|i| main_loop.pass_off_the_bus(&mut seat, i * 100_000).led)
            .collect();
        assert_eq!(
            leds.iter().filter(|&&l| l).count(),
            2,
            "100 ms a second: {leds:?}"
        );
        assert!(!seat.has_session());
        seat.sensor_mut().0 = 9_500;
        let mut now = 2_000;
        let mut out = main_loop.pass_off_the_bus(&mut seat, now * 1_000);
        while !out.load_cut && now < 10_000 {
            now += 100;
            out = main_loop.pass_off_the_bus(&mut seat, now * 1_000);
        }
        assert!(
            out.load_cut && out.led && out.feed_watchdog,
            "tripped off the bus at {now} ms"
        );
    }
}
