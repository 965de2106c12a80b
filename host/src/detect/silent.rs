//! Silence: a seat whose frames stop, or a whole line that goes quiet.
//!
//! A seat is `pending` silent once no verified frame has arrived for [`PENDING_PERIODS`] × its
//! telemetry period (the bound the technicians are promised: a dead console shows within 2.5
//! periods), and `firing` after [`FIRING_PERIODS`] × its period. The two steps exist because a
//! line loses frames: at 1 % independent loss, two consecutive losses (a 3-period gap) happen
//! once per 10,000 frames — about once a second across 577 seats at 2 Hz — while four in a row
//! (a 5-period gap) happen once per 10⁸ frames, about once a day. So a dead console is on the
//! map within 2.5 periods, and only a real one reaches the sinks.
//!
//! A line whose port is down, or whose seats (two or more) are all silent, is one `line_down`
//! alert, which stands for its seats: their own `seat_silent` alerts are not raised.

use super::Signal;

/// Gap, in telemetry periods, within which a silent seat is pending (less one check interval,
/// so that checked every [`CHECK_MS`] it is raised within 2.5 periods, not just after).
pub const PENDING_PERIODS: f64 = 2.5;
/// How often silence is checked: the alert engine's tick.
pub const CHECK_MS: u64 = 100;
/// Gap, in telemetry periods, after which the seat_silent alert fires.
pub const FIRING_PERIODS: f64 = 4.5;

/// Signal of a seat last heard at `last_heard_ms` (or, if never heard, watched since then).
pub fn seat_signal(last_heard_ms: u64, period_ms: u64, now_ms: u64) -> Signal {
    let gap = now_ms.saturating_sub(last_heard_ms) as f64;
    let period = period_ms.max(1) as f64;
    if gap > FIRING_PERIODS * period {
        Signal::Firing
    } else if gap > PENDING_PERIODS * period - CHECK_MS as f64 {
        Signal::Pending
    } else {
        Signal::Clear
    }
}

/// Signal of a line: its port has been down since `port_down_since_ms` (if it is), and its
/// seats say `seats` (their own silence signals). `period_ms` is the longest period of its seats.
pub fn line_signal(
    port_down_since_ms: Option<u64>,
    seats: impl IntoIterator<Item = Signal>,
    period_ms: u64,
    now_ms: u64,
) -> Signal {
    let port = port_down_since_ms.map_or(Signal::Clear, |since| seat_signal(since, period_ms, now_ms));
    let (mut n, mut worst_all) = (0usize, Signal::Firing);
    for s in seats {
        n += 1;
        worst_all = match (worst_all, s) {
            (_, Signal::Clear) | (Signal::Clear, _) => Signal::Clear,
            (Signal::Pending, _) | (_, Signal::Pending) => Signal::Pending,
            _ => Signal::Firing,
        };
    }
    let all_quiet = if n >= 2 { worst_all } else { Signal::Clear };
    match (port, all_quiet) {
        (Signal::Firing, _) | (_, Signal::Firing) => Signal::Firing,
        (Signal::Pending, _) | (_, Signal::Pending) => Signal::Pending,
        _ => Signal::Clear,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seat_is_pending_within_two_and_a_half_periods_and_firing_after_four_and_a_half() {
        assert_eq!(seat_signal(0, 500, 1_000), Signal::Clear, "one lost frame");
        assert_eq!(seat_signal(0, 500, 1_150), Signal::Clear);
        assert_eq!(
            seat_signal(0, 500, 1_151),
            Signal::Pending,
            "checked every 100 ms: by 1 250"
        );
        assert_eq!(seat_signal(0, 500, 2_250), Signal::Pending);
        assert_eq!(seat_signal(0, 500, 2_251), Signal::Firing);
    }

    #[test]
    fn a_line_is_down_when_its_port_is_or_when_all_its_seats_are_quiet() {
        use Signal::*;
        assert_eq!(line_signal(None, [Firing, Firing, Firing], 500, 10_000), Firing);
        assert_eq!(line_signal(None, [Firing, Clear, Firing], 500, 10_000), Clear);
        assert_eq!(line_signal(None, [Firing, Pending], 500, 10_000), Pending);
        assert_eq!(
            line_signal(None, [Firing], 500, 10_000),
            Clear,
            "one seat is that seat's problem"
        );
        assert_eq!(
            line_signal(Some(9_000), [Clear, Clear], 500, 10_000),
            Clear,
            "replugged within 1 s"
        );
        assert_eq!(line_signal(Some(8_000), [Clear, Clear], 500, 10_000), Pending);
        assert_eq!(line_signal(Some(0), [], 500, 10_000), Firing);
    }
}
