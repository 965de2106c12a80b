//! Tampering: frames on a line that fail their MAC or are replays, kept up.
//!
//! A genuine seat never sends a frame that fails its MAC (line noise is caught by the CRC before
//! the MAC is tried) and never repeats a counter, so a few such frames are a seat with the wrong
//! key or an attacker probing, and a steady stream of them is a masquerade attempt: the
//! [`Kind::LinkTampering`](crate::alert::Kind::LinkTampering) alert fires once [`THRESHOLD`]
//! arrive within [`WINDOW_MS`], and clears only after [`QUIET_MS`] without one, so an attacker
//! pausing between bursts does not make it flap.

use std::collections::VecDeque;

use super::Signal;

/// Rejections within [`WINDOW_MS`] that make the alert fire: a burst no healthy line produces
/// (at 2 Hz, four seconds of one seat's frames all refused).
pub const THRESHOLD: usize = 8;
/// The window rejections are counted over.
pub const WINDOW_MS: u64 = 10_000;
/// Quiet time after the last rejection before a firing alert clears.
pub const QUIET_MS: u64 = 60_000;

/// One line's recent bad-MAC and replay rejections.
#[derive(Debug, Default)]
pub struct Tamper {
    /// Arrival times of the rejections inside the window (at most [`THRESHOLD`] kept).
    recent: VecDeque<u64>,
    /// The last rejection.
    last_ms: Option<u64>,
    /// Every rejection counted since start, for the summary.
    total: u64,
    /// The alert stands.
    firing: bool,
}

impl Tamper {
    /// A frame was refused as a forgery or a replay at `now_ms`.
    pub fn record(&mut self, now_ms: u64) {
        self.total += 1;
        self.last_ms = Some(now_ms);
        self.recent.push_back(now_ms);
        while self.recent.len() > THRESHOLD {
            self.recent.pop_front();
        }
    }

    /// Whether the line is under attack as of `now_ms`.
    pub fn signal(&mut self, now_ms: u64) -> Signal {
        while self
            .recent
            .front()
            .is_some_and(|t| now_ms.saturating_sub(*t) > WINDOW_MS)
        {
            self.recent.pop_front();
        }
        if self.recent.len() >= THRESHOLD {
            self.firing = true;
        } else if self.firing && self.last_ms.is_none_or(|t| now_ms.saturating_sub(t) > QUIET_MS) {
            self.firing = false;
        }
        if self.firing {
            Signal::Firing
        } else {
            Signal::Clear
        }
    }

    /// Rejections counted since the daemon started.
    pub fn total(&self) -> u64 {
        self.total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_fires_a_trickle_does_not_and_the_alert_holds_until_quiet() {
        let mut t = Tamper::default();
        // One refused frame every 2 s: a misconfigured key at worst, never a burst.
        for i in 0..20 {
            t.record(i * 2_000);
            assert_eq!(t.signal(i * 2_000), Signal::Clear, "trickle at {i}");
        }
        let start = 100_000;
        for i in 0..THRESHOLD as u64 - 1 {
            t.record(start + i * 500);
        }
        assert_eq!(
            t.signal(start + 3_500),
            Signal::Clear,
            "one short of the threshold"
        );
        t.record(start + 3_600);
        assert_eq!(t.signal(start + 3_600), Signal::Firing);
        assert_eq!(
            t.signal(start + 3_600 + QUIET_MS - 1),
            Signal::Firing,
            "holds between bursts"
        );
        assert_eq!(t.signal(start + 3_600 + QUIET_MS + 1), Signal::Clear);
        assert_eq!(t.total(), 20 + THRESHOLD as u64);
    }
}
