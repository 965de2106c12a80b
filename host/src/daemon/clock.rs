//! The state task's clock: detection runs on a monotonic clock, so a step of the wall clock
//! (NTP correcting a drifted host by minutes, an operator setting the date) changes neither a
//! prediction nor a silence. Time is the wall clock read once at start plus the monotonic time
//! elapsed since (`tokio::time::Instant`): it looks like unix ms and every difference between two
//! readings is a true duration. Each tick compares it with the wall clock; a jump of their
//! offset by more than [`STEP_MS`] is a step, recorded as a `clock_stepped` event.
//!
//! Stamps follow the same clock, so after a step they differ from the wall clock by the step
//! until the next start (the event says by how much).

/// A change of the wall clock against the monotonic one larger than this is a step (slewing by
/// NTP stays far below it; a tick is late by far less).
pub(super) const STEP_MS: i64 = 2_000;

/// See the module docs. Readings are passed in, so tests inject both clocks.
#[derive(Debug)]
pub(super) struct Clock {
    /// Wall-clock unix ms at the start.
    wall_at_start: u64,
    /// Offset of the wall clock against this clock at the last check, ms.
    offset: i64,
}

/// The wall clock moved against the monotonic one.
#[derive(Debug, PartialEq)]
pub(super) struct Step {
    /// By how much, ms (negative: backwards).
    pub(super) by_ms: i64,
}

impl Clock {
    /// A clock reading `wall_ms` now.
    pub(super) fn new(wall_ms: u64) -> Self {
        Self {
            wall_at_start: wall_ms,
            offset: 0,
        }
    }

    /// The time `mono_ms` after the start: what detection uses.
    pub(super) fn now(&self, mono_ms: u64) -> u64 {
        self.wall_at_start + mono_ms
    }

    /// Compares the wall clock (`wall_ms`) with this clock `mono_ms` after the start; a step if
    /// their offset moved by more than [`STEP_MS`] since the last check.
    pub(super) fn check(&mut self, mono_ms: u64, wall_ms: u64) -> Option<Step> {
        let offset = wall_ms as i64 - self.now(mono_ms) as i64;
        let by_ms = offset - self.offset;
        if by_ms.abs() > STEP_MS {
            self.offset = offset;
            Some(Step { by_ms })
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wall_clock_step_is_seen_once_and_moves_nothing() {
        let start = 1_700_000_000_000u64;
        let mut c = Clock::new(start);
        assert_eq!(c.check(1_000, start + 1_000), None);
        // Slewing: a few ms of drift is not a step.
        assert_eq!(c.check(2_000, start + 2_005), None);
        // The wall clock jumps 10 minutes forward: reported once; detection time goes on.
        assert_eq!(
            c.check(3_000, start + 3_000 + 600_000),
            Some(Step { by_ms: 600_000 })
        );
        assert_eq!(c.now(3_000), start + 3_000);
        assert_eq!(c.check(4_000, start + 4_000 + 600_000), None);
        // And 10 minutes back.
        assert_eq!(c.check(5_000, start + 5_000), Some(Step { by_ms: -600_000 }));
        assert_eq!(c.now(5_000) - c.now(4_000), 1_000, "durations are monotonic");
    }

    /// A seat heard at 2 Hz for 6 min, steady then heating 6 °C/min from 60 s, the engine
    /// ticking every 100 ms, with the wall clock stepping by `step_ms` at 3 min; the engine is fed `time(mono, wall)`. Returns every
    /// alert change.
    fn run(step_ms: i64, time: impl Fn(&Clock, u64, u64) -> u64) -> Vec<crate::alert::AlertChange> {
        use crate::alert::AlertEngine;
        use crate::detect::{Sample, SeatRules};
        let start = 1_700_000_000_000u64;
        let mut clock = Clock::new(start);
        let rules = SeatRules {
            line: Some("a".into()),
            ..SeatRules::defaults(1)
        };
        let mut e = AlertEngine::new([rules], start, 0);
        let mut out = Vec::new();
        for mono in (0..360_000u64).step_by(100) {
            let wall = (start + mono).saturating_add_signed(if mono >= 180_000 { step_ms } else { 0 });
            let _ = clock.check(mono, wall);
            let now = time(&clock, mono, wall);
            if mono % 500 == 0 {
                e.on_heard(1, Some("a"), now);
                e.on_sample(
                    1,
                    Sample {
                        t_ms: now,
                        temp_c: Some(50.0 + mono.saturating_sub(60_000) as f64 / 10_000.0),
                        flags: 0,
                    },
                );
            }
            e.tick(now);
            out.extend(e.drain());
        }
        out
    }

    #[test]
    fn a_ten_minute_step_changes_neither_a_prediction_nor_a_silence() {
        let monotonic = |c: &Clock, mono: u64, _wall: u64| c.now(mono);
        let plain = run(0, monotonic);
        assert!(
            plain.iter().any(|c| matches!(c, crate::alert::AlertChange::Alert { view, .. }
                if view.kind == crate::alert::Kind::OverheatPredicted && view.predicted_critical_at_ms.is_some())),
            "the heating seat is predicted to overheat: {plain:?}"
        );
        for step in [600_000, -600_000] {
            assert_eq!(run(step, monotonic), plain, "a {step} ms step changed detection");
        }
        // Fed the wall clock instead, the same step does change what is detected.
        let wall = |_: &Clock, _: u64, wall: u64| wall;
        assert_ne!(run(600_000, wall), plain);
    }
}
