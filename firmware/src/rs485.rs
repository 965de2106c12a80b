//! The seat's side of a half-duplex RS-485 line: the transceiver's driver is enabled only while
//! the seat transmits.
//!
//! On a shared bus every seat's transceiver hears every other; a seat that leaves its driver
//! enabled holds the line and silences all the others. [`Rs485`] wraps the board's UART port:
//! it raises DE (driver enable; with RE tied to it, active low, the receiver is off meanwhile)
//! before the first byte of a write and drops it once the port's `flush` reports the last stop
//! bit sent (the UART's transmission-complete flag, not merely an empty data register) — and
//! also when a write or a flush fails, so an error can never leave the driver on. At reset the
//! pin is an input: a 10 kΩ pull-down on DE keeps the driver off until the firmware runs (see
//! `firmware/README.md`).

use embedded_hal::digital::OutputPin;
use embedded_io::{ErrorType, Read, ReadReady, Write};

/// A port whose writes enable an RS-485 driver for as long as they last (see the module docs).
#[derive(Debug)]
pub struct Rs485<P, DE> {
    port: P,
    de: DE,
}

impl<P: Write, DE: OutputPin> Rs485<P, DE> {
    /// Wraps `port`, with the driver off.
    pub fn new(port: P, mut de: DE) -> Self {
        let _ = de.set_low();
        Self { port, de }
    }

    /// The port inside (e.g. for its receive side).
    pub fn port_mut(&mut self) -> &mut P {
        &mut self.port
    }

    fn release(&mut self) {
        // A pin that cannot be driven low is beyond repair here; the watchdog is the backstop.
        let _ = self.de.set_low();
    }
}

impl<P: ErrorType, DE> ErrorType for Rs485<P, DE> {
    type Error = P::Error;
}

impl<P: Read, DE> Read for Rs485<P, DE> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        self.port.read(buf)
    }
}

impl<P: ReadReady, DE> ReadReady for Rs485<P, DE> {
    fn read_ready(&mut self) -> Result<bool, Self::Error> {
        self.port.read_ready()
    }
}

impl<P: Write, DE: OutputPin> Write for Rs485<P, DE> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        let _ = self.de.set_high();
        self.port.write(buf).inspect_err(|_| self.release())
    }

    /// Waits for transmission complete, then drops DE (also when the wait fails).
    fn flush(&mut self) -> Result<(), Self::Error> {
        let result = self.port.flush();
        self.release();
        result
    }
}

#[cfg(test)]
mod tests {
    use core::convert::Infallible;
    use std::cell::RefCell;
    use std::rc::Rc;
    use std::vec::Vec;

    use super::*;

    #[derive(Debug, PartialEq, Eq, Clone, Copy)]
    enum Ev {
        De(bool),
        Byte(u8),
        Complete,
    }

    type Log = Rc<RefCell<Vec<Ev>>>;

    struct Pin(Log);

    impl embedded_hal::digital::ErrorType for Pin {
        type Error = Infallible;
    }

    impl OutputPin for Pin {
        fn set_low(&mut self) -> Result<(), Infallible> {
            self.0.borrow_mut().push(Ev::De(false));
            Ok(())
        }
        fn set_high(&mut self) -> Result<(), Infallible> {
            self.0.borrow_mut().push(Ev::De(true));
            Ok(())
        }
    }

    struct Uart {
        log: Log,
        fail: bool,
    }

    impl ErrorType for Uart {
        type Error = embedded_io::ErrorKind;
    }

    impl Write for Uart {
        fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
            if self.fail {
                return Err(embedded_io::ErrorKind::TimedOut);
            }
            self.log.borrow_mut().extend(buf.iter().map(|&b| Ev::Byte(b)));
            Ok(buf.len())
        }
        fn flush(&mut self) -> Result<(), Self::Error> {
            if self.fail {
                return Err(embedded_io::ErrorKind::TimedOut);
            }
            self.log.borrow_mut().push(Ev::Complete);
            Ok(())
        }
    }

    fn line(fail: bool) -> (Log, Rs485<Uart, Pin>) {
        let log: Log = Rc::default();
        let port = Rs485::new(
            Uart {
                log: log.clone(),
                fail,
            },
            Pin(log.clone()),
        );
        (log, port)
    }

    #[test]
    fn the_driver_is_on_from_before_the_first_byte_until_transmission_complete() {
        let (log, mut port) = line(false);
        port.write_all(&[1, 2, 3]).unwrap();
        port.flush().unwrap();
        assert_eq!(
            *log.borrow(),
            [
                Ev::De(false), // off from the start
                Ev::De(true),
                Ev::Byte(1),
                Ev::Byte(2),
                Ev::Byte(3),
                Ev::Complete,
                Ev::De(false),
            ]
        );
    }

    #[test]
    fn a_failed_write_or_flush_never_leaves_the_driver_on() {
        let (log, mut port) = line(true);
        assert!(port.write(&[1]).is_err());
        assert_eq!(log.borrow().last(), Some(&Ev::De(false)));
        port.port_mut().fail = false;
        port.write_all(&[9]).unwrap();
        assert_eq!(log.borrow().last(), Some(&Ev::Byte(9)), "on while sending");
        port.port_mut().fail = true;
        assert!(port.flush().is_err());
        assert_eq!(log.borrow().last(), Some(&Ev::De(false)));
    }
}
