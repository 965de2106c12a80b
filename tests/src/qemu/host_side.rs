//! The host's end of a seat line in HIL tests: the protocol crate's [`HostLink`] for one seat,
//! fed from the seat's UART, and the line's bus access as the daemon runs it ([`LineBus`]): it
//! beacons the seat's round every round period (the seat speaks only in its turns), queues the
//! handshake's `Session` and the test's commands ahead of the beacons, and keeps every frame with
//! its verdict.
//!
//! Timing: QEMU and the host's scheduler add milliseconds of jitter, far above the hardware's
//! 20 µs, so this line runs with a jitter budget of [`HIL_JITTER_US`] (carried to the seat in
//! every beacon). A line of one seat cannot collide whatever the budget; the budget keeps the
//! host's idea of when the round is over honest.

use std::time::{Duration, Instant};

use anyhow::bail;
use hemiwatch::source::{LineBus, Queued};
use hemiwatch_protocol::bus::{FrameSizes, Plan, Timing};
use hemiwatch_protocol::{
    AuthError, FrameDecoder, Hello, HostLink, Message, SeatId, SeatKey, SessionChange, Verified, MAX_WIRE,
};

use super::QemuSeat;

/// One frame the seat sent, as the host saw it.
#[derive(Clone, Debug)]
pub struct Received {
    /// When its last byte arrived.
    pub at: Instant,
    /// The wire bytes including the delimiter (to replay it later).
    pub wire: Vec<u8>,
    /// What the host's link made of it.
    pub verdict: Result<Verified, AuthError>,
}

impl Received {
    /// The verified message, if it verified.
    pub fn message(&self) -> Option<&Message> {
        self.verdict.as_ref().ok().map(|v| &v.message)
    }
}

/// Jitter budget of the HIL line, µs: QEMU's and the test process's scheduling latency.
pub const HIL_JITTER_US: u16 = 2_000;

/// Round period the HIL host starts with: the firmware's default sampling period.
pub const HIL_PERIOD_MS: u64 = 1_000;

/// The test's end of a seat line: a [`HostLink`] for one seat and the line's [`LineBus`], as the
/// daemon runs them. It outlives a seat's QEMU process, so a restarted seat meets the same host
/// state (sessions, anti-replay, epoch).
pub struct HostSide {
    /// The host's link state for this seat.
    pub link: HostLink,
    seat: SeatId,
    bus: LineBus,
    origin: Instant,
    decoder: FrameDecoder<MAX_WIRE>,
    partial: Vec<u8>,
    partial_at: Instant,
    /// Every frame received so far, in order.
    pub log: Vec<Received>,
    /// Transmissions (round openings) written to the seat so far: what a failed handshake prints,
    /// to tell a host that stopped beaconing from a seat that stopped answering.
    rounds_opened: u64,
}

impl HostSide {
    /// A host end for `seat` with `key`, beaconing every [`HIL_PERIOD_MS`].
    pub fn new(seat: SeatId, key: &SeatKey) -> Self {
        let origin = Instant::now();
        Self {
            link: HostLink::new(seat, Some(key)),
            seat,
            bus: LineBus::new(plan(seat, HIL_PERIOD_MS), 0, rand::random()),
            origin,
            decoder: FrameDecoder::new(),
            partial: Vec::new(),
            partial_at: origin,
            log: Vec::new(),
            rounds_opened: 0,
        }
    }

    /// Beacons the round of `seat` instead of the link's own seat: a host end that listens to
    /// a seat it has no key for (its frames then fail with `OtherSeat`).
    pub fn beaconing(mut self, seat: SeatId) -> Self {
        self.seat = seat;
        self.bus = LineBus::new(plan(seat, HIL_PERIOD_MS), self.now_ns(), self.bus.epoch());
        self
    }

    /// Changes the line's round period, i.e. the seat's telemetry period (what the daemon's
    /// configured `telemetry_period_ms` does); queued commands are kept, the epoch too.
    pub fn set_period(&mut self, period_ms: u64) {
        let mut bus = LineBus::new(plan(self.seat, period_ms), self.now_ns(), self.bus.epoch());
        while let Some(q) = self.bus.pop() {
            bus.enqueue(q);
        }
        self.bus = bus;
    }

    fn now_ns(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
    }

    /// Opens the rounds that are due; returns when the next one is.
    fn beacon(&mut self, seat: &mut QemuSeat) -> anyhow::Result<Instant> {
        loop {
            match self.bus.poll(self.now_ns()) {
                Ok(bytes) => {
                    seat.write(&bytes)?;
                    self.rounds_opened += 1;
                }
                Err(at) => return Ok(self.origin + Duration::from_nanos(at)),
            }
        }
    }

    /// The next frame within `timeout` (`Ok(None)` on timeout), beaconing meanwhile.
    pub fn recv(&mut self, seat: &mut QemuSeat, timeout: Duration) -> anyhow::Result<Option<Received>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(pos) = self.partial.iter().position(|&b| b == 0) {
                let wire: Vec<u8> = self.partial.drain(..=pos).collect();
                let Some(r) = self.verdict_of(&wire) else { continue };
                self.log.push(r.clone());
                return Ok(Some(r));
            }
            let next_beacon = self.beacon(seat)?;
            let now = Instant::now();
            let left = deadline.saturating_duration_since(now);
            if left.is_zero() {
                return Ok(None);
            }
            let wait = left
                .min(next_beacon.saturating_duration_since(now))
                .min(Duration::from_millis(200))
                .max(Duration::from_micros(100));
            if let Some((at, bytes)) = seat.read_chunk(wait)? {
                self.bus.on_bytes(
                    at.saturating_duration_since(self.origin).as_nanos() as u64,
                    &bytes,
                );
                self.partial_at = at;
                self.partial.extend_from_slice(&bytes);
            }
        }
    }

    fn verdict_of(&mut self, wire: &[u8]) -> Option<Received> {
        let mut out = None;
        let link = &mut self.link;
        self.decoder.feed(wire, |f| {
            if let Ok(raw) = f {
                out = Some(link.accept(&raw));
            }
        });
        // Line noise (no frame) is skipped; a frame always gets a verdict.
        let at = self.partial_at;
        out.map(|verdict| Received {
            at,
            wire: wire.to_vec(),
            verdict,
        })
    }

    /// Waits for a frame whose verified message satisfies `pred`.
    pub fn wait_for(
        &mut self,
        seat: &mut QemuSeat,
        timeout: Duration,
        mut pred: impl FnMut(&Message) -> bool,
    ) -> anyhow::Result<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.recv(seat, left)? {
                Some(r) if r.message().is_some_and(&mut pred) => return Ok(r),
                Some(_) => {}
                None => bail!(
                    "no matching frame within {timeout:?}; received {} frames; UART chunks (since \
                     boot, bytes): {:?}; QEMU stderr:\n{}",
                    self.log.len(),
                    seat.arrivals,
                    seat.stderr()
                ),
            }
        }
    }

    /// Waits for a verified `Hello`.
    pub fn wait_hello(&mut self, seat: &mut QemuSeat, timeout: Duration) -> anyhow::Result<Hello> {
        let r = self.wait_for(seat, timeout, |m| matches!(m, Message::Hello(_)))?;
        match r.message() {
            Some(Message::Hello(h)) => Ok(h.clone()),
            _ => unreachable!("wait_for matched a Hello"),
        }
    }

    /// The whole handshake: waits for `Hello`, answers with a fresh `Session`, and waits for the
    /// first frame under it. Returns the `Hello` and how the session was established.
    pub fn handshake(&mut self, seat: &mut QemuSeat) -> anyhow::Result<(Hello, SessionChange)> {
        let hello = self.wait_hello(seat, Duration::from_secs(5))?;
        let mut buf = [0u8; MAX_WIRE];
        let wire = self
            .link
            .respond_to_hello(&hello, rand::random(), &mut buf)
            .map_err(|e| anyhow::anyhow!("respond_to_hello: {e}"))?
            .to_vec();
        self.queue(wire)?;
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(r) = self.recv(seat, left)? else {
                bail!(
                    "the seat never used the session; the last frames (newest first): {:?}; UART \
                     chunks since boot (time, bytes; undecodable ones are not frames): {:?}; host \
                     rounds opened: {}; QEMU stderr:\n{}",
                    self.log
                        .iter()
                        .rev()
                        .take(6)
                        .map(|r| r.verdict.as_ref().map(|v| v.message.kind()))
                        .collect::<Vec<_>>(),
                    seat.arrivals,
                    self.rounds_opened,
                    seat.stderr()
                )
            };
            if let Ok(v) = &r.verdict {
                if let SessionChange::Established { .. } = v.session {
                    return Ok((hello, v.session));
                }
            }
        }
    }

    /// Queues a command for the next round openings; returns its counter (what the seat's `Ack`
    /// echoes).
    pub fn command(&mut self, _seat: &mut QemuSeat, msg: &Message) -> anyhow::Result<u32> {
        let mut buf = [0u8; MAX_WIRE];
        let (counter, wire) = self
            .link
            .encode(msg, &mut buf)
            .map_err(|e| anyhow::anyhow!("encode {msg:?}: {e}"))?;
        let wire = wire.to_vec();
        self.queue(wire)?;
        Ok(counter)
    }

    /// Queues raw downlink bytes (one frame, e.g. a replayed capture) for the next opening.
    pub fn queue(&mut self, wire: Vec<u8>) -> anyhow::Result<()> {
        let q = Queued::from_wire(wire).ok_or_else(|| anyhow::anyhow!("not one frame"))?;
        self.bus.enqueue(q);
        Ok(())
    }
}

/// The HIL line's schedule: one seat, `period_ms`, 115200 baud, [`HIL_JITTER_US`].
fn plan(seat: SeatId, period_ms: u64) -> Plan {
    let timing = Timing::with_jitter(115_200, u64::from(HIL_JITTER_US) * 1_000);
    Plan::with_timing(seat, 1, period_ms * 1_000_000, timing, FrameSizes::MEASURED)
        .expect("one seat fits any period the tests use")
}
