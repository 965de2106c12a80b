//! systemd's service protocol: `READY=1` once the daemon serves, `WATCHDOG=1` from the state
//! task's own heartbeat, `STOPPING=1` on the way out.
//!
//! Under the packaged unit (`Type=notify`, `WatchdogSec=`), systemd starts the units that order
//! after Hemiwatch only once its storage, lines and HTTP are up, and restarts a daemon that stops
//! petting its watchdog. The pet comes from the state task's tick, not from a timer of its own,
//! and only while the stall detector ([`super::selfwatch`]) finds the task on time: a state task
//! that hangs (a blocking call on the runtime, a deadlock) or keeps running late for longer than
//! `WatchdogSec` gets the daemon restarted, instead of a monitor that looks alive and judges
//! nothing. Outside systemd (`NOTIFY_SOCKET` unset) every call is a no-op.

use std::time::Duration;

use sd_notify::NotifyState;

/// The watchdog side of the protocol: whether systemd asked for pets, and when the last went out.
#[derive(Debug)]
pub(super) struct Watchdog {
    /// Pet at least this often: half of `WATCHDOG_USEC`, as sd_watchdog_enabled(3) advises.
    every_ms: Option<u64>,
    /// Monotonic ms of the last pet.
    last_ms: Option<u64>,
}

impl Watchdog {
    /// Reads `WATCHDOG_USEC`/`WATCHDOG_PID` as systemd set them for this process.
    pub(super) fn from_env() -> Self {
        Self::every(sd_notify::watchdog_enabled())
    }

    /// A watchdog that wants a pet within `timeout` (`None`: no watchdog).
    pub(super) fn every(timeout: Option<Duration>) -> Self {
        Self {
            every_ms: timeout.map(|t| (t.as_millis() as u64 / 2).max(1)),
            last_ms: None,
        }
    }

    /// One state-task tick at monotonic `now_ms`; `on_time` is the stall detector's verdict.
    /// Returns whether a pet is due (and records it as sent): the caller sends it.
    pub(super) fn beat(&mut self, now_ms: u64, on_time: bool) -> bool {
        let Some(every) = self.every_ms else {
            return false;
        };
        if !on_time || self.last_ms.is_some_and(|l| now_ms.saturating_sub(l) < every) {
            return false;
        }
        self.last_ms = Some(now_ms);
        true
    }

    /// [`Self::beat`], sending `WATCHDOG=1` when due.
    pub(super) fn tick(&mut self, now_ms: u64, on_time: bool) {
        if self.beat(now_ms, on_time) {
            send(&[NotifyState::Watchdog]);
        }
    }
}

/// `READY=1` with a status line: storage is open, the lines are started, HTTP listens.
pub(super) fn ready(status: &str) {
    send(&[NotifyState::Ready, NotifyState::Status(status)]);
}

/// `STOPPING=1`: the daemon is flushing storage and closing; the stop timeout applies.
pub(super) fn stopping() {
    send(&[NotifyState::Stopping]);
}

fn send(states: &[NotifyState]) {
    if let Err(e) = sd_notify::notify(states) {
        tracing::warn!(error = %e, "cannot notify systemd (NOTIFY_SOCKET)");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pets_at_half_the_timeout_and_never_while_the_task_is_late() {
        let mut w = Watchdog::every(Some(Duration::from_secs(10)));
        assert!(w.beat(0, true), "first on-time tick pets");
        assert!(!w.beat(4_999, true), "not again before half the timeout");
        assert!(w.beat(5_000, true));
        // The stall detector says the task runs late: no pet however long it lasts, so systemd
        // restarts the daemon once the timeout passes.
        for t in (5_100..=20_000).step_by(100) {
            assert!(!w.beat(t, false), "pet at {t} ms while stalled");
        }
        assert!(w.beat(20_100, true), "pets again once on time");
    }

    #[test]
    fn without_a_watchdog_nothing_is_sent() {
        let mut w = Watchdog::every(None);
        assert!(!w.beat(0, true));
        assert!(!w.beat(1_000_000, true));
    }
}
