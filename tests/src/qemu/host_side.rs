//! The host's end of a seat line in HIL tests: the protocol crate's [`HostLink`] for one seat,
//! fed from the seat's UART, answering the handshake, pinging as the daemon does, sending
//! commands and keeping every frame with its verdict.

use std::time::{Duration, Instant};

use anyhow::bail;
use hemiwatch_protocol::{
    AuthError, FrameDecoder, Hello, HostLink, Message, Ping, SeatId, SeatKey, SessionChange, Verified,
    MAX_WIRE,
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

/// The test's end of a seat line: a [`HostLink`] for one seat, as the daemon runs it. It outlives
/// a seat's QEMU process, so a restarted seat meets the same host state (sessions, anti-replay).
pub struct HostSide {
    /// The host's link state for this seat.
    pub link: HostLink,
    decoder: FrameDecoder<MAX_WIRE>,
    partial: Vec<u8>,
    partial_at: Instant,
    last_sent: Instant,
    /// Every frame received so far, in order.
    pub log: Vec<Received>,
}

impl HostSide {
    /// A host end for `seat` with `key`.
    pub fn new(seat: SeatId, key: &SeatKey) -> Self {
        Self {
            link: HostLink::new(seat, Some(key)),
            decoder: FrameDecoder::new(),
            partial: Vec::new(),
            partial_at: Instant::now(),
            last_sent: Instant::now(),
            log: Vec::new(),
        }
    }

    /// The next frame within `timeout` (`Ok(None)` on timeout). Pings the seat every 2 s while
    /// a session is open, as the daemon does, so it never re-hellos mid-test.
    pub fn recv(&mut self, seat: &mut QemuSeat, timeout: Duration) -> anyhow::Result<Option<Received>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(pos) = self.partial.iter().position(|&b| b == 0) {
                let wire: Vec<u8> = self.partial.drain(..=pos).collect();
                let Some(r) = self.verdict_of(&wire) else { continue };
                self.log.push(r.clone());
                return Ok(Some(r));
            }
            if self.link.has_session() && self.last_sent.elapsed() > Duration::from_secs(2) {
                self.command(seat, &Message::Ping(Ping {}))?;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            if let Some((at, bytes)) = seat.read_chunk(left.min(Duration::from_millis(200)))? {
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
        seat.write(&wire)?;
        self.last_sent = Instant::now();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(r) = self.recv(seat, left)? else {
                bail!("the seat never used the session; QEMU stderr:\n{}", seat.stderr())
            };
            if let Ok(v) = &r.verdict {
                if let SessionChange::Established { .. } = v.session {
                    return Ok((hello, v.session));
                }
            }
        }
    }

    /// Sends a command; returns its counter (what the seat's `Ack` echoes).
    pub fn command(&mut self, seat: &mut QemuSeat, msg: &Message) -> anyhow::Result<u32> {
        let mut buf = [0u8; MAX_WIRE];
        let (counter, wire) = self
            .link
            .encode(msg, &mut buf)
            .map_err(|e| anyhow::anyhow!("encode {msg:?}: {e}"))?;
        let wire = wire.to_vec();
        seat.write(&wire)?;
        self.last_sent = Instant::now();
        Ok(counter)
    }
}
