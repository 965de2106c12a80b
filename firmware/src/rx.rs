//! Interrupt-driven UART reception: the receive interrupt moves every byte into a `heapless`
//! single-producer single-consumer queue the moment it arrives, and the main loop reads the queue
//! through embedded-io. The main loop may then be busy far longer than the UART's hardware buffer
//! lasts (one byte on the STM32F411's USART, 16 on the PL011) — computing a CMAC, transmitting a
//! frame, reading or recovering the sensor — without losing a byte; see [`QUEUE_LEN`] for the
//! worst case it covers.
//!
//! Line errors are counted, not dropped silently: [`RxCounters`] holds overrun, framing and noise
//! errors reported by the UART and bytes lost to a full queue, for the board's log and the seat's
//! `LINK_OVERRUN` event.

use core::sync::atomic::{AtomicU32, Ordering};

use embedded_io::{ErrorType, Read, ReadReady};
use heapless::spsc::{Consumer, Producer};

/// Bytes the queue is sized for (a heapless queue of `QUEUE_LEN + 1` slots): 256 bytes arrive
/// in 22.2 ms at 115200 baud (86.8 µs a byte, 10 bits with start and stop). The main loop's
/// worst pass is bounded well below: a sensor read (two transactions, 0.6 ms at 100 kHz) or its
/// worst failure (each bounded wait gives up within ~4 ms, then a bus clear of ≤ 0.1 ms), a CMAC
/// (~50 µs) and queueing its frames (a copy: transmission itself is the interrupt's, see
/// [`crate::tx`]): under 8.5 ms, i.e. ≤ 98 bytes. (Before the transmit queue a frame through a
/// one-byte transmit register added 3.5 ms.)
pub const QUEUE_LEN: usize = 256;

/// One byte time at 115200 baud, ns (10 bits: start, 8 data, stop).
pub const BYTE_NS_115200: u64 = 86_806;

/// Receive-side error counters, shared between the interrupt and the main loop.
#[derive(Debug, Default)]
pub struct RxCounters {
    overrun: AtomicU32,
    framing: AtomicU32,
    noise: AtomicU32,
    dropped: AtomicU32,
}

/// A snapshot of [`RxCounters`].
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RxErrors {
    /// The UART's own buffer overflowed (the interrupt came too late).
    pub overrun: u32,
    /// A stop bit was missing (wrong baud rate, a collision, a broken line).
    pub framing: u32,
    /// Noise was detected within a bit.
    pub noise: u32,
    /// The queue was full: the main loop did not read for [`QUEUE_LEN`] byte times.
    pub dropped: u32,
}

impl RxErrors {
    /// All of them.
    pub fn total(&self) -> u32 {
        self.overrun
            .wrapping_add(self.framing)
            .wrapping_add(self.noise)
            .wrapping_add(self.dropped)
    }
}

/// A line error the UART reported with (or instead of) a byte.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum LineError {
    /// Overrun (ORE / OE).
    Overrun,
    /// Framing (FE).
    Framing,
    /// Noise (NF; the PL011 has none).
    Noise,
}

impl RxCounters {
    /// No errors yet (`const`, for a `static`).
    pub const fn new() -> Self {
        Self {
            overrun: AtomicU32::new(0),
            framing: AtomicU32::new(0),
            noise: AtomicU32::new(0),
            dropped: AtomicU32::new(0),
        }
    }

    /// Counts an error (from the interrupt).
    pub fn note(&self, e: LineError) {
        let c = match e {
            LineError::Overrun => &self.overrun,
            LineError::Framing => &self.framing,
            LineError::Noise => &self.noise,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// The counts so far.
    pub fn snapshot(&self) -> RxErrors {
        RxErrors {
            overrun: self.overrun.load(Ordering::Relaxed),
            framing: self.framing.load(Ordering::Relaxed),
            noise: self.noise.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
        }
    }
}

/// The interrupt's end: pushes a received byte, counting it as dropped when the queue is full.
pub fn on_byte(producer: &mut Producer<'_, u8>, counters: &RxCounters, byte: u8) {
    if producer.enqueue(byte).is_err() {
        counters.dropped.fetch_add(1, Ordering::Relaxed);
    }
}

/// The main loop's end: the queue as an embedded-io reader that never blocks for long.
pub struct QueueRx<'a> {
    consumer: Consumer<'a, u8>,
}

impl<'a> QueueRx<'a> {
    /// Reads from `consumer`.
    pub fn new(consumer: Consumer<'a, u8>) -> Self {
        Self { consumer }
    }
}

impl ErrorType for QueueRx<'_> {
    type Error = core::convert::Infallible;
}

impl ReadReady for QueueRx<'_> {
    fn read_ready(&mut self) -> Result<bool, Self::Error> {
        Ok(self.consumer.ready())
    }
}

impl Read for QueueRx<'_> {
    /// What the queue holds, up to `buf.len()`; 0 only when it is empty (the seat reads after
    /// `read_ready`, so it never waits here).
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        let mut n = 0;
        for b in buf.iter_mut() {
            match self.consumer.dequeue() {
                Some(x) => *b = x,
                None => break,
            }
            n += 1;
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use heapless::spsc::Queue;
    use hemiwatch_protocol::{encode_unauthenticated, FrameDecoder, Message, Ping, MAX_WIRE};

    use super::*;

    #[test]
    fn errors_are_counted_by_kind_and_a_full_queue_drops_and_counts() {
        let counters = RxCounters::new();
        let mut q: Queue<u8, 5> = Queue::new();
        let (mut p, c) = q.split();
        for b in 0..6 {
            on_byte(&mut p, &counters, b);
        }
        counters.note(LineError::Overrun);
        counters.note(LineError::Framing);
        counters.note(LineError::Framing);
        counters.note(LineError::Noise);
        let e = counters.snapshot();
        assert_eq!((e.overrun, e.framing, e.noise, e.dropped), (1, 2, 1, 2), "{e:?}");
        assert_eq!(e.total(), 6);
        let mut rx = QueueRx::new(c);
        let mut buf = [0u8; 8];
        assert_eq!(rx.read(&mut buf).unwrap(), 4, "4 slots of 5 hold bytes");
        assert_eq!(&buf[..4], &[0, 1, 2, 3]);
        assert!(!rx.read_ready().unwrap());
    }

    /// The line runs at 115200 baud throughout: every 86.8 µs of simulated time the interrupt
    /// queues one byte — a stream of back-to-back host frames — while the main loop spends the
    /// stated worst case per pass (a CMAC, a transmitted frame, a sensor read that times out
    /// and clears the bus) before it reads. Not one byte may be lost and every frame must
    /// decode.
    #[test]
    fn a_line_at_full_rate_loses_nothing_while_the_loop_does_its_worst() {
        /// Worst main-loop pass, ns: a failing sensor read whose bounded waits give up (2 × 4 ms),
        /// a bus clear (0.1 ms), a CMAC (0.05 ms), frames copied into the transmit queue (the
        /// wire is the interrupt's, `crate::tx`); rounded up.
        const WORST_PASS_NS: u64 = 8_500_000;
        // Back-to-back frames: the host never leaves the line idle.
        let mut stream = std::vec::Vec::new();
        let mut frames = 0u32;
        while stream.len() < 4_000 {
            let mut buf = [0u8; MAX_WIRE];
            let wire = encode_unauthenticated(7, frames, &Message::Ping(Ping {}), &mut buf).unwrap();
            stream.extend_from_slice(wire);
            frames += 1;
        }
        let counters = RxCounters::new();
        let mut q: Queue<u8, { QUEUE_LEN + 1 }> = Queue::new();
        let (mut p, c) = q.split();
        let mut rx = QueueRx::new(c);
        let mut dec = FrameDecoder::<MAX_WIRE>::new();
        let (mut decoded, mut received) = (0, 0usize);
        let (mut sent, mut now_ns, mut most_queued) = (0usize, 0u64, 0usize);
        while received < stream.len() {
            // The main loop is busy for its worst pass; the interrupt keeps queueing meanwhile.
            now_ns += WORST_PASS_NS;
            while sent < stream.len() && (sent as u64) * BYTE_NS_115200 <= now_ns {
                on_byte(&mut p, &counters, stream[sent]);
                sent += 1;
            }
            most_queued = most_queued.max(p.len());
            // Then it reads everything that is there, as Seat::poll does.
            let mut chunk = [0u8; 32];
            while rx.read_ready().unwrap() {
                let n = rx.read(&mut chunk).unwrap();
                received += n;
                dec.feed(&chunk[..n], |f| {
                    assert!(f.is_ok(), "frame damaged");
                    decoded += 1;
                });
            }
        }
        assert_eq!(counters.snapshot(), RxErrors::default(), "no byte lost");
        assert_eq!(decoded, frames);
        // 8.5 ms of line at 86.8 µs a byte: 98 bytes queued at most, within QUEUE_LEN.
        assert_eq!(most_queued, (WORST_PASS_NS / BYTE_NS_115200) as usize + 1);
        assert!(most_queued < QUEUE_LEN);
    }
}
