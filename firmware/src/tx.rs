//! Interrupt-driven UART transmission: the main loop never waits on the wire.
//!
//! A frame takes 2–4 ms to leave at 115200 baud (86.8 µs a byte). Written byte by byte through
//! the UART's one-byte data register (the STM32F411) the main loop would spend that long spinning;
//! instead [`QueueTx`] (the loop's embedded-io `Write`) copies the frame into a `heapless`
//! single-producer single-consumer queue of [`QUEUE_LEN`] bytes and asks for the UART interrupt
//! (`kick`), and [`on_interrupt`] — called from the board's UART interrupt — moves bytes from the
//! queue into the transmitter whenever it has room.
//!
//! RS-485 driver enable moves with the bytes: [`on_interrupt`] raises DE before it writes the first
//! byte of a burst and drops it only once the queue is empty *and* the UART reports transmission
//! complete (the last stop bit is out, TC on the STM32 — not merely an empty data register, which
//! would cut the last byte in half). At reset DE is pulled low in hardware (see
//! `firmware/README.md`).
//!
//! A frame goes into the queue whole or not at all: a full queue refuses the write with
//! [`TxError::QueueFull`] and nothing of the frame is sent, so the line never carries half a frame;
//! the seat counts the refusal (`seat::MAX_TX_ERRORS` refusals in a row make it unhealthy, and a
//! wedged transmitter — which never drains the queue — ends in a watchdog reset).

use embedded_io::{ErrorType, Write};
use heapless::spsc::{Consumer, Producer};

/// Bytes of frames waiting for the wire (a `heapless` queue of `QUEUE_LEN + 1` slots): a poll
/// sends at most a `Hello`, a telemetry frame, a few acks and the queued events, each ≤ 66 bytes
/// (`MAX_WIRE`) and in practice 20–40; 256 bytes hold more than a poll's worth, 22 ms of line.
pub const QUEUE_LEN: usize = 256;

/// Bytes moved per interrupt at most, so the handler's time is bounded even on an emulated UART
/// whose transmitter is never full: the PL011's transmit FIFO depth (DS-LM3S6965, UART "FIFO
/// Operation": 16 entries).
pub const BURST: usize = 16;

/// What [`on_interrupt`] needs of a UART transmitter and its RS-485 driver enable.
pub trait TxHardware {
    /// The transmitter can take a byte now (STM32 TXE; PL011 transmit FIFO not full).
    fn ready(&mut self) -> bool;
    /// Hands one byte to the transmitter (only after [`Self::ready`]).
    fn write(&mut self, byte: u8);
    /// The last byte written has left completely, stop bit included (STM32 TC).
    fn complete(&mut self) -> bool;
    /// Drives the RS-485 driver enable (a board without a transceiver ignores it).
    fn driver_enable(&mut self, on: bool);
    /// Asks for the interrupt when the transmitter has room (STM32 TXEIE; PL011 TXIM).
    fn listen_ready(&mut self, on: bool);
    /// Asks for the interrupt at transmission complete (STM32 TCIE).
    fn listen_complete(&mut self, on: bool);
}

/// The interrupt's end: moves up to [`BURST`] queued bytes into the transmitter (DE raised before
/// the first), then either keeps listening for room (bytes left) or, with the queue empty, drops
/// DE if the last byte is out or listens for transmission complete to do it then.
pub fn on_interrupt<H: TxHardware>(consumer: &mut Consumer<'_, u8>, hw: &mut H) {
    for _ in 0..BURST {
        if !consumer.ready() || !hw.ready() {
            break;
        }
        let Some(byte) = consumer.dequeue() else {
            break;
        };
        hw.driver_enable(true);
        hw.write(byte);
    }
    if consumer.ready() {
        hw.listen_complete(false);
        hw.listen_ready(true);
    } else {
        hw.listen_ready(false);
        if hw.complete() {
            hw.listen_complete(false);
            hw.driver_enable(false);
        } else {
            hw.listen_complete(true);
        }
    }
}

/// A write the transmit queue refused.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum TxError {
    /// Not enough room for the whole frame: the transmitter is behind (or wedged).
    QueueFull,
}

impl embedded_io::Error for TxError {
    fn kind(&self) -> embedded_io::ErrorKind {
        embedded_io::ErrorKind::OutOfMemory
    }
}

/// The main loop's end: an embedded-io writer that queues and returns at once.
pub struct QueueTx<'a> {
    producer: Producer<'a, u8>,
    kick: fn(),
}

impl<'a> QueueTx<'a> {
    /// Writes into `producer`; `kick` makes the board's UART interrupt run (e.g. pends it in the
    /// NVIC) so [`on_interrupt`] starts a burst.
    pub fn new(producer: Producer<'a, u8>, kick: fn()) -> Self {
        Self { producer, kick }
    }

    /// Bytes still waiting for the transmitter.
    pub fn queued(&self) -> usize {
        self.producer.len()
    }
}

impl ErrorType for QueueTx<'_> {
    type Error = TxError;
}

impl Write for QueueTx<'_> {
    /// All of `buf` or nothing ([`TxError::QueueFull`]): a seat writes one frame per call, and
    /// half a frame on the line is garbage for every listener.
    fn write(&mut self, buf: &[u8]) -> Result<usize, TxError> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.producer.capacity() - self.producer.len() < buf.len() {
            return Err(TxError::QueueFull);
        }
        for &b in buf {
            // Cannot fail: room was checked and only this end adds bytes.
            let _ = self.producer.enqueue(b);
        }
        (self.kick)();
        Ok(buf.len())
    }

    /// Returns at once: the bytes leave from the interrupt (the loop never waits on the wire).
    fn flush(&mut self) -> Result<(), TxError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::vec::Vec;

    use heapless::spsc::Queue;

    use super::*;

    #[derive(Debug, PartialEq, Eq, Clone, Copy)]
    enum Ev {
        De(bool),
        /// A byte entered the shift register / left the data register.
        Byte(u8),
        /// Its last stop bit left the wire.
        Done(u8),
    }

    /// An STM32-like USART: a one-byte data register in front of a shift register, one byte
    /// time per byte, TXE and TC as on RM0383 §19.3.2, interrupts as enabled.
    #[derive(Default)]
    struct Usart {
        data: Option<u8>,
        shifting: Option<(u8, u64)>,
        now: u64,
        txeie: bool,
        tcie: bool,
        de: bool,
        log: Vec<Ev>,
    }

    const BYTE_NS: u64 = crate::rx::BYTE_NS_115200;

    impl Usart {
        /// Advances the wire by `ns`: finished bytes leave, the data register refills the shifter.
        fn run(&mut self, ns: u64) {
            let end = self.now + ns;
            loop {
                if self.shifting.is_none() {
                    if let Some(b) = self.data.take() {
                        self.shifting = Some((b, self.now + BYTE_NS));
                    }
                }
                match self.shifting {
                    Some((b, done)) if done <= end => {
                        assert!(self.de, "byte {b:#x} on the wire with the driver off");
                        self.now = done;
                        self.log.push(Ev::Done(b));
                        self.shifting = None;
                    }
                    _ => break,
                }
            }
            self.now = end;
        }

        fn pending(&self) -> bool {
            (self.txeie && self.data.is_none()) || (self.tcie && self.complete_now())
        }

        fn complete_now(&self) -> bool {
            self.data.is_none() && self.shifting.is_none()
        }
    }

    impl TxHardware for Usart {
        fn ready(&mut self) -> bool {
            self.data.is_none()
        }
        fn write(&mut self, byte: u8) {
            assert!(self.data.is_none(), "data register overwritten");
            self.data = Some(byte);
            self.log.push(Ev::Byte(byte));
            if self.shifting.is_none() {
                self.data = None;
                self.shifting = Some((byte, self.now + BYTE_NS));
            }
        }
        fn complete(&mut self) -> bool {
            self.complete_now()
        }
        fn driver_enable(&mut self, on: bool) {
            if on != self.de {
                self.log.push(Ev::De(on));
            }
            self.de = on;
        }
        fn listen_ready(&mut self, on: bool) {
            self.txeie = on;
        }
        fn listen_complete(&mut self, on: bool) {
            self.tcie = on;
        }
    }

    thread_local! {
        static KICKED: Cell<u32> = const { Cell::new(0) };
    }

    fn kick() {
        KICKED.with(|k| k.set(k.get() + 1));
    }

    /// Frames written by a busy main loop leave in order, whole, with DE raised before the first
    /// byte of a burst and dropped only after the last byte's stop bit; the loop's writes return
    /// at once however long the wire takes.
    #[test]
    fn queued_frames_leave_whole_in_order_and_de_drops_only_after_the_last_stop_bit() {
        let mut q: Queue<u8, { QUEUE_LEN + 1 }> = Queue::new();
        let (p, mut c) = q.split();
        let mut tx = QueueTx::new(p, kick);
        let mut uart = Usart::default();
        let mut expected = Vec::new();
        let mut interrupt_pending = false;
        // 40 passes of the loop; each writes one to three frames of varying length (12–39 bytes),
        // then does 10 ms of other work while the interrupt feeds the wire: bursts overlap the
        // queue's draining and sometimes let it run dry (DE dropped and raised again).
        for pass in 0u32..40 {
            for f in 0..(pass % 3 + 1) {
                let len = 12 + ((pass * 7 + f * 5) % 28) as usize;
                let frame: Vec<u8> = (0..len).map(|i| (pass * 31 + f * 7 + i as u32) as u8).collect();
                let before = KICKED.with(Cell::get);
                tx.write_all(&frame).unwrap();
                tx.flush().unwrap();
                assert_eq!(
                    KICKED.with(Cell::get),
                    before + 1,
                    "every write kicks the interrupt"
                );
                interrupt_pending = true;
                expected.extend_from_slice(&frame);
            }
            // 10 ms in 10 µs steps: the interrupt runs whenever it is pending.
            for _ in 0..1_000 {
                if interrupt_pending || uart.pending() {
                    interrupt_pending = false;
                    on_interrupt(&mut c, &mut uart);
                }
                uart.run(10_000);
            }
        }
        // Let the wire finish.
        for _ in 0..100_000 {
            if uart.pending() {
                on_interrupt(&mut c, &mut uart);
            }
            uart.run(10_000);
            if !uart.de && tx.queued() == 0 {
                break;
            }
        }
        let done: Vec<u8> = uart
            .log
            .iter()
            .filter_map(|e| match e {
                Ev::Done(b) => Some(*b),
                _ => None,
            })
            .collect();
        assert_eq!(done, expected, "no byte lost, duplicated or reordered");
        assert!(!uart.de, "driver released at the end");
        // Every DE drop comes right after a completed byte, and never while bytes are queued
        // behind it in the same burst (the next event is a DE rise or the end).
        for (i, e) in uart.log.iter().enumerate() {
            if *e == Ev::De(false) {
                assert!(
                    matches!(uart.log[i - 1], Ev::Done(_)),
                    "DE dropped before TC: {:?}",
                    &uart.log[i.saturating_sub(3)..=i]
                );
                assert!(
                    matches!(uart.log.get(i + 1), None | Some(Ev::De(true))),
                    "DE dropped mid-burst"
                );
            }
        }
        assert_eq!(
            uart.log.first(),
            Some(&Ev::De(true)),
            "DE up before the first byte"
        );
        let releases = uart.log.iter().filter(|e| **e == Ev::De(false)).count();
        assert!(releases > 5, "the queue ran dry between bursts {releases} times");
    }

    /// A frame that does not fit is refused whole: nothing of it reaches the queue, the frames
    /// before it are intact, and the refusal is an error the seat can count.
    #[test]
    fn a_full_queue_refuses_the_whole_frame_and_keeps_what_it_holds() {
        let mut q: Queue<u8, 9> = Queue::new();
        let (p, mut c) = q.split();
        let mut tx = QueueTx::new(p, kick);
        tx.write_all(&[1, 2, 3, 4, 5]).unwrap();
        assert_eq!(tx.write(&[6, 7, 8, 9]), Err(TxError::QueueFull));
        assert_eq!(tx.write_all(&[6, 7, 8, 9]), Err(TxError::QueueFull));
        tx.write_all(&[6, 7, 8]).unwrap();
        let mut out = Vec::new();
        while let Some(b) = c.dequeue() {
            out.push(b);
        }
        assert_eq!(out, [1, 2, 3, 4, 5, 6, 7, 8]);
    }

    /// The port of a seat whose transmitter is wedged: nothing is received, and the queue is never
    /// drained by an interrupt.
    /// Received bytes are the host's beacons (the seat only speaks in its turn).
    struct Wedged<'a>(QueueTx<'a>, heapless::Vec<u8, 64>);

    impl embedded_io::ErrorType for Wedged<'_> {
        type Error = TxError;
    }
    impl embedded_io::Read for Wedged<'_> {
        fn read(&mut self, buf: &mut [u8]) -> Result<usize, TxError> {
            let n = buf.len().min(self.1.len());
            buf[..n].copy_from_slice(&self.1[..n]);
            let rest: heapless::Vec<u8, 64> = self.1[n..].iter().copied().collect();
            self.1 = rest;
            Ok(n)
        }
    }
    impl embedded_io::ReadReady for Wedged<'_> {
        fn read_ready(&mut self) -> Result<bool, TxError> {
            Ok(!self.1.is_empty())
        }
    }
    impl Write for Wedged<'_> {
        fn write(&mut self, buf: &[u8]) -> Result<usize, TxError> {
            self.0.write(buf)
        }
        fn flush(&mut self) -> Result<(), TxError> {
            self.0.flush()
        }
    }

    struct At(i16);
    impl crate::Thermometer for At {
        fn read_centi(&mut self) -> Result<i16, ()> {
            Ok(self.0)
        }
    }

    /// A full queue is a transmit error the seat counts: with the transmitter wedged the queue
    /// fills with Hellos, the refusals pile up to `MAX_TX_ERRORS` and the seat stops feeding its
    /// watchdog — the reset that recovers a wedged UART.
    #[test]
    fn a_wedged_transmitter_fills_the_queue_and_the_seat_stops_feeding_the_watchdog() {
        use hemiwatch_protocol::{BoardKind, ResetCause, SeatKey};
        let mut q: Queue<u8, { QUEUE_LEN + 1 }> = Queue::new();
        let (p, _c) = q.split();
        let mut port = Wedged(QueueTx::new(p, kick), heapless::Vec::new());
        let boot = crate::BootInfo {
            board: BoardKind::BlackPillF411,
            reset: ResetCause::PowerOn,
            boot_id: 7,
            provisioned: true,
        };
        let mut seat = crate::Seat::new(3, &SeatKey([1; 16]), boot, At(2_500));
        let mut now = 0u32;
        let mut healthy_until = None;
        let mut beacon = [0u8; hemiwatch_protocol::MAX_WIRE];
        let beacon = hemiwatch_protocol::bus::Beacon::new(3, 1)
            .encode(0, &mut beacon)
            .expect("a beacon encodes");
        while now <= 60_000 {
            // A round for seat 3 every second: it says Hello in its turn, 5 ms after the beacon.
            if now.is_multiple_of(1_000) {
                port.1 = beacon.iter().copied().collect();
                seat.poll(u64::from(now) * 1_000, &mut port);
                seat.poll(u64::from(now) * 1_000 + 5_000, &mut port);
            } else {
                seat.poll(u64::from(now) * 1_000, &mut port);
            }
            if !seat.healthy() && healthy_until.is_none() {
                healthy_until = Some(now);
            }
            now += 100;
        }
        let queued = port.0.queued();
        assert!(
            queued > QUEUE_LEN - hemiwatch_protocol::MAX_WIRE,
            "the queue filled: {queued}"
        );
        let t = healthy_until.expect("a wedged transmitter must make the seat unhealthy");
        assert!(
            t > 8_000,
            "not before the queue is full and 8 Hellos were refused: {t} ms"
        );
    }
}
