//! I2C bus recovery: what a board does when a slave holds SDA low and the bus is dead.
//!
//! A TMP105 (or any I2C slave) that lost its master mid-byte — the MCU reset during a read, a
//! glitch on SCL — keeps driving SDA low while it waits for the clock pulses of a byte it thinks
//! is still under way; the master then sees the bus busy forever and every transaction fails.
//! The cure is the "bus clear" of the I2C specification (NXP UM10204 rev. 7, §3.1.16): with the
//! pins taken from the peripheral and driven as open-drain GPIO, clock SCL until the slave
//! releases SDA — at most nine pulses, eight data bits and the acknowledge — then send a STOP so
//! every slave is back to idle, and reset the I2C peripheral, whose state machine may be wedged
//! as well.
//!
//! - [`clear_bus`] is that sequence over embedded-hal pins and a delay: bounded (never more than
//!   [`MAX_CLEAR_PULSES`] pulses), and it says whether the bus came back.
//! - [`BusRecovery`] is what a board's I2C bus offers: take its pins, run [`clear_bus`], give the
//!   pins back and reset the peripheral.
//! - [`Recovering`] wraps such a bus as an embedded-hal [`I2c`]: every failed transaction is
//!   followed by a recovery, so the next one starts on a clear bus.

use embedded_hal::delay::DelayNs;
use embedded_hal::digital::{InputPin, OutputPin};
use embedded_hal::i2c::{ErrorType, I2c, Operation, SevenBitAddress};

/// The most SCL pulses a bus clear sends: a slave stuck mid-byte releases SDA within the eight
/// data bits and the acknowledge bit of that byte (UM10204 §3.1.16).
pub const MAX_CLEAR_PULSES: u8 = 9;

/// Half a period of the bus-clear clock, ns: 5 µs high, 5 µs low, the 100 kHz of standard mode
/// (UM10204 Table 10, t_LOW ≥ 4.7 µs, t_HIGH ≥ 4.0 µs), which every slave follows.
pub const HALF_PERIOD_NS: u32 = 5_000;

/// Why a bus clear failed.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ClearError {
    /// SDA still low after [`MAX_CLEAR_PULSES`] pulses: a slave (or a short) holds it for good.
    SdaStuck,
    /// SCL does not go high when released: a slave stretches the clock forever, or a short.
    SclStuck,
    /// A pin could not be driven or read.
    Pin,
}

/// Clears the bus (see the module docs): releases both lines, clocks SCL until SDA reads high
/// (at most [`MAX_CLEAR_PULSES`] pulses), then sends a STOP. Returns the pulses it took.
///
/// `scl` and `sda` must be open-drain outputs that read the pin's level (not the output latch),
/// with pull-ups on the bus: "high" releases the line.
pub fn clear_bus<SCL, SDA, D>(scl: &mut SCL, sda: &mut SDA, delay: &mut D) -> Result<u8, ClearError>
where
    SCL: OutputPin + InputPin,
    SDA: OutputPin + InputPin,
    D: DelayNs,
{
    sda.set_high().map_err(pin_error)?;
    scl.set_high().map_err(pin_error)?;
    delay.delay_ns(HALF_PERIOD_NS);
    if scl.is_low().map_err(pin_error)? {
        return Err(ClearError::SclStuck);
    }
    let mut pulses = 0;
    while sda.is_low().map_err(pin_error)? {
        if pulses == MAX_CLEAR_PULSES {
            return Err(ClearError::SdaStuck);
        }
        scl.set_low().map_err(pin_error)?;
        delay.delay_ns(HALF_PERIOD_NS);
        scl.set_high().map_err(pin_error)?;
        delay.delay_ns(HALF_PERIOD_NS);
        pulses += 1;
    }
    // STOP: SDA goes low while SCL is low, then rises while SCL is high.
    scl.set_low().map_err(pin_error)?;
    delay.delay_ns(HALF_PERIOD_NS);
    sda.set_low().map_err(pin_error)?;
    delay.delay_ns(HALF_PERIOD_NS);
    scl.set_high().map_err(pin_error)?;
    delay.delay_ns(HALF_PERIOD_NS);
    sda.set_high().map_err(pin_error)?;
    delay.delay_ns(HALF_PERIOD_NS);
    Ok(pulses)
}

/// Any pin error is [`ClearError::Pin`]: nothing more can be done with it here.
fn pin_error<E>(_: E) -> ClearError {
    ClearError::Pin
}

/// A board's I2C bus that can clear itself: the board implements this by handing its SCL/SDA
/// pins to [`clear_bus`] as open-drain GPIO and resetting its I2C peripheral afterwards (also
/// when the clear failed, so the peripheral is at least idle).
pub trait BusRecovery {
    /// Runs the recovery; the pulses [`clear_bus`] needed, or why it failed.
    fn recover(&mut self) -> Result<u8, ClearError>;
}

/// An I2C bus that recovers after every failed transaction (see the module docs), and counts
/// how often it had to.
#[derive(Debug)]
pub struct Recovering<B> {
    bus: B,
    recoveries: u32,
    last: Option<Result<u8, ClearError>>,
}

impl<B: BusRecovery> Recovering<B> {
    /// Wraps `bus` and recovers it once at once: the MCU may have reset in the middle of a
    /// transfer, leaving a slave that holds SDA.
    pub fn new(mut bus: B) -> Self {
        let last = bus.recover();
        if let Err(e) = last {
            warn!("i2c: bus clear at start-up failed: {}", e);
        }
        Self {
            bus,
            recoveries: 0,
            last: Some(last),
        }
    }

    /// Recoveries after a failed transaction since start-up (the start-up one not counted).
    pub fn recoveries(&self) -> u32 {
        self.recoveries
    }

    /// How the last recovery went (`None` never happens after [`Self::new`]).
    pub fn last_recovery(&self) -> Option<Result<u8, ClearError>> {
        self.last
    }

    /// The bus inside.
    pub fn inner_mut(&mut self) -> &mut B {
        &mut self.bus
    }
}

impl<B: ErrorType> ErrorType for Recovering<B> {
    type Error = B::Error;
}

impl<B: I2c + BusRecovery> I2c<SevenBitAddress> for Recovering<B> {
    fn transaction(&mut self, address: u8, operations: &mut [Operation<'_>]) -> Result<(), Self::Error> {
        let result = self.bus.transaction(address, operations);
        if result.is_err() {
            self.recoveries = self.recoveries.wrapping_add(1);
            let r = self.bus.recover();
            if let Err(e) = r {
                warn!("i2c: bus clear failed: {}", e);
            }
            self.last = Some(r);
        }
        result
    }
}

#[cfg(test)]
mod tests {
    use core::convert::Infallible;
    use std::cell::RefCell;
    use std::rc::Rc;
    use std::vec::Vec;

    use embedded_hal::digital::ErrorType as PinErrorType;
    use embedded_hal::i2c::ErrorKind;

    use super::*;

    /// An open-drain bus with a slave that holds SDA low for `hold` more SCL pulses (`None`:
    /// for ever), and a trace of the line levels after every change.
    #[derive(Default)]
    struct Wire {
        scl_out: bool,
        sda_out: bool,
        scl_shorted: bool,
        hold: Option<u32>,
        pulses: u32,
        trace: Vec<(bool, bool)>,
    }

    impl Wire {
        fn scl(&self) -> bool {
            self.scl_out && !self.scl_shorted
        }
        fn sda(&self) -> bool {
            self.sda_out && self.hold == Some(0)
        }
    }

    type Shared = Rc<RefCell<Wire>>;

    struct Scl(Shared);
    struct Sda(Shared);

    impl PinErrorType for Scl {
        type Error = Infallible;
    }
    impl PinErrorType for Sda {
        type Error = Infallible;
    }

    impl OutputPin for Scl {
        fn set_low(&mut self) -> Result<(), Infallible> {
            let mut w = self.0.borrow_mut();
            w.scl_out = false;
            let t = (w.scl(), w.sda());
            w.trace.push(t);
            Ok(())
        }
        fn set_high(&mut self) -> Result<(), Infallible> {
            let mut w = self.0.borrow_mut();
            let rising = !w.scl_out;
            w.scl_out = true;
            if rising {
                w.pulses += 1;
                // The slave shifts one bit per clock and lets go after the held ones.
                if let Some(h) = w.hold.as_mut() {
                    *h = h.saturating_sub(1);
                }
            }
            let t = (w.scl(), w.sda());
            w.trace.push(t);
            Ok(())
        }
    }
    impl InputPin for Scl {
        fn is_high(&mut self) -> Result<bool, Infallible> {
            Ok(self.0.borrow().scl())
        }
        fn is_low(&mut self) -> Result<bool, Infallible> {
            Ok(!self.0.borrow().scl())
        }
    }
    impl OutputPin for Sda {
        fn set_low(&mut self) -> Result<(), Infallible> {
            let mut w = self.0.borrow_mut();
            w.sda_out = false;
            let t = (w.scl(), w.sda());
            w.trace.push(t);
            Ok(())
        }
        fn set_high(&mut self) -> Result<(), Infallible> {
            let mut w = self.0.borrow_mut();
            w.sda_out = true;
            let t = (w.scl(), w.sda());
            w.trace.push(t);
            Ok(())
        }
    }
    impl InputPin for Sda {
        fn is_high(&mut self) -> Result<bool, Infallible> {
            Ok(self.0.borrow().sda())
        }
        fn is_low(&mut self) -> Result<bool, Infallible> {
            Ok(!self.0.borrow().sda())
        }
    }

    /// Simulated time: the delays requested, summed.
    #[derive(Default)]
    struct Clock(u64);

    impl DelayNs for Clock {
        fn delay_ns(&mut self, ns: u32) {
            self.0 += u64::from(ns);
        }
    }

    fn wire(hold: Option<u32>) -> (Shared, Scl, Sda) {
        let w = Rc::new(RefCell::new(Wire {
            scl_out: true,
            sda_out: true,
            hold,
            ..Wire::default()
        }));
        (w.clone(), Scl(w.clone()), Sda(w))
    }

    /// Ends with a STOP: the last two line changes are SCL rising with SDA low, then SDA rising
    /// with SCL high.
    fn ends_with_stop(trace: &[(bool, bool)]) -> bool {
        trace.len() >= 2 && trace[trace.len() - 2] == (true, false) && trace[trace.len() - 1] == (true, true)
    }

    #[test]
    fn a_slave_holding_sda_for_n_pulses_is_clocked_free_then_stopped() {
        for n in 0..=9 {
            let (w, mut scl, mut sda) = wire(Some(n));
            let mut clock = Clock::default();
            assert_eq!(
                clear_bus(&mut scl, &mut sda, &mut clock),
                Ok(n as u8),
                "held for {n}"
            );
            let w = w.borrow();
            assert_eq!(w.pulses, n + 1, "{n} clearing pulses + the STOP's clock");
            assert!(ends_with_stop(&w.trace), "held for {n}: {:?}", w.trace);
            // Each pulse is a full 100 kHz period; the STOP and the release take 2.5 more.
            assert_eq!(clock.0, u64::from(HALF_PERIOD_NS) * (2 * u64::from(n) + 5));
        }
    }

    #[test]
    fn a_slave_that_never_releases_is_reported_after_nine_pulses() {
        let (w, mut scl, mut sda) = wire(None);
        let mut clock = Clock::default();
        assert_eq!(
            clear_bus(&mut scl, &mut sda, &mut clock),
            Err(ClearError::SdaStuck)
        );
        assert_eq!(w.borrow().pulses, u32::from(MAX_CLEAR_PULSES));
    }

    #[test]
    fn a_clock_held_low_is_reported_without_pulsing() {
        let (w, mut scl, mut sda) = wire(Some(3));
        w.borrow_mut().scl_shorted = true;
        assert_eq!(
            clear_bus(&mut scl, &mut sda, &mut Clock::default()),
            Err(ClearError::SclStuck)
        );
        assert_eq!(w.borrow().pulses, 0);
    }

    /// A bus whose transactions fail while `fail` says so, counting recoveries.
    struct Flaky {
        fail: bool,
        recovered: u32,
    }

    impl ErrorType for Flaky {
        type Error = ErrorKind;
    }

    impl I2c for Flaky {
        fn transaction(&mut self, _: u8, _: &mut [Operation<'_>]) -> Result<(), ErrorKind> {
            if self.fail {
                Err(ErrorKind::Bus)
            } else {
                Ok(())
            }
        }
    }

    impl BusRecovery for Flaky {
        fn recover(&mut self) -> Result<u8, ClearError> {
            self.recovered += 1;
            Ok(2)
        }
    }

    #[test]
    fn the_bus_is_recovered_at_start_up_and_after_every_failed_transaction_only() {
        let mut bus = Recovering::new(Flaky {
            fail: false,
            recovered: 0,
        });
        assert_eq!(bus.inner_mut().recovered, 1, "at start-up");
        assert_eq!(bus.write(0x48, &[0]), Ok(()));
        assert_eq!(bus.inner_mut().recovered, 1, "not after a good transaction");
        bus.inner_mut().fail = true;
        assert_eq!(
            bus.read(0x48, &mut [0]),
            Err(ErrorKind::Bus),
            "the error is passed on"
        );
        assert_eq!(bus.write(0x48, &[0]), Err(ErrorKind::Bus));
        assert_eq!(bus.inner_mut().recovered, 3);
        assert_eq!(bus.recoveries(), 2);
        assert_eq!(bus.last_recovery(), Some(Ok(2)));
    }
}
