//! Frames held back on the path: the turns a line's host offered a seat against the frames the
//! seat's authenticated counter says it sent (the protocol's threat model, "Delay").
//!
//! Samples are stamped on arrival, so an attacker who holds a seat's frames back, or stretches
//! their delivery, flattens the slope the predictor sees. No frame carries a timestamp; the bus
//! gives the host one anyway. The active host opens every round itself, and a seat transmits
//! exactly one frame per turn it is offered, so since the session opened
//!
//! ```text
//! backlog = turns offered − frames sent (counter advance, lost frames included) − turns missed
//! ```
//!
//! is the number of frames the path is holding. It is 0 on an honest line; a seat that missed
//! turns (a garbled beacon, a board that fell behind) says how many with a verified
//! `TURNS_MISSED` event, which no one on the path can forge. Frames lost on the way advance the
//! counter and so never count as held.
//!
//! A backlog is a delay at once when the frame that shows it was also read outside its turn (after
//! its round's worst case, or in another seat's round): no honest frame is. Otherwise it is
//! judged on the next frame: the seat's `TURNS_MISSED` event may follow its first frame after a
//! gap by one turn (telemetry is owed every other turn), and a frame read just after the host
//! opened the next round is counted in that round, one turn late, which its successor undoes. A
//! backlog still standing one frame later is a delay. Delays shorter than a round are not
//! caught: they shift a stamp by less than one period.

/// One seat's account, from its session's first verified frame.
#[derive(Clone, Debug, Default)]
pub struct TurnBook {
    /// Turns offered and counter at the reference frame (the session's first, or the last time
    /// the account was even); `None` until a frame under the session arrived with turn evidence.
    anchor: Option<(u64, u32)>,
    /// Turns the seat reported missed since the anchor.
    missed: u64,
    /// The backlog the previous frame showed.
    previous: u64,
}

/// What a frame says about the path.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Every turn offered is accounted for (or the account is not judged yet).
    OnTime,
    /// This many frames are held back on the path, on two frames in a row.
    Delayed(u64),
}

impl TurnBook {
    /// Starts over: a new session, a resynchronised link, a line re-planned.
    pub fn reset(&mut self) {
        *self = Self::default();
    }

    /// The seat reported `turns` it never heard (a verified `TURNS_MISSED` event): applied before
    /// the frame that carried it is judged.
    pub fn missed(&mut self, turns: u64) {
        self.missed = self.missed.saturating_add(turns);
    }

    /// A verified frame of the session with `counter`, read when its line had offered the seat
    /// `offered` turns, `in_turn` or not (see the module docs).
    pub fn on_frame(&mut self, offered: u64, counter: u32, in_turn: bool) -> Delivery {
        let Some((o0, c0)) = self.anchor else {
            self.anchor = Some((offered, counter));
            return Delivery::OnTime;
        };
        if offered < o0 || counter < c0 {
            // The line was re-planned (its turn counts started over) or the counter was
            // re-anchored by a new session the caller did not report: start a fresh account.
            self.reset();
            self.anchor = Some((offered, counter));
            return Delivery::OnTime;
        }
        let turns = offered - o0;
        let sent = u64::from(counter - c0) + self.missed;
        let backlog = turns.saturating_sub(sent);
        if sent >= turns {
            // More frames than turns offered: a frame counted one turn late (read just after the
            // next round opened) has been followed by its successor, or the seat reported more
            // missed turns than the gap. Even again: this frame is the new reference.
            self.anchor = Some((offered, counter));
            self.missed = 0;
        }
        let judged = if backlog > 0 && (self.previous > 0 || !in_turn) {
            Delivery::Delayed(backlog)
        } else {
            Delivery::OnTime
        };
        self.previous = backlog;
        judged
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A seat that answers every turn, one frame each.
    fn honest(book: &mut TurnBook, from: u64, turns: u64, counter: &mut u32) -> Vec<Delivery> {
        (from..from + turns)
            .map(|t| {
                *counter += 1;
                book.on_frame(t, *counter, true)
            })
            .collect()
    }

    #[test]
    fn an_honest_seat_is_on_time_and_lost_frames_are_not_held_ones() {
        let mut b = TurnBook::default();
        let mut c = 100;
        assert!(honest(&mut b, 10, 50, &mut c)
            .iter()
            .all(|d| *d == Delivery::OnTime));
        // Three frames lost on the way: the counter jumps with the turns.
        c += 3;
        assert!(honest(&mut b, 63, 20, &mut c)
            .iter()
            .all(|d| *d == Delivery::OnTime));
    }

    #[test]
    fn a_frame_counted_one_turn_late_is_undone_by_its_successor() {
        let mut b = TurnBook::default();
        assert_eq!(b.on_frame(1, 1, true), Delivery::OnTime);
        assert_eq!(b.on_frame(2, 2, true), Delivery::OnTime);
        // Frame 3 read just after round 4 opened, frame 4 in round 4 as it should be.
        assert_eq!(b.on_frame(4, 3, true), Delivery::OnTime);
        assert_eq!(b.on_frame(4, 4, true), Delivery::OnTime);
        assert_eq!(b.on_frame(5, 5, true), Delivery::OnTime);
        // The same every other round for a while: never a delay.
        for t in 0..20u64 {
            let late = if t % 2 == 0 { 1 } else { 0 };
            assert_eq!(
                b.on_frame(6 + t + late, 6 + t as u32, true),
                Delivery::OnTime,
                "turn {t}"
            );
        }
    }

    #[test]
    fn missed_turns_the_seat_reports_are_not_a_delay() {
        let mut b = TurnBook::default();
        let mut c = 0;
        honest(&mut b, 0, 5, &mut c);
        // Turns 5 and 6 never heard; the first frame after the gap is telemetry (owed), the
        // TURNS_MISSED event comes in the next turn.
        c += 1;
        assert_eq!(b.on_frame(7, c, true), Delivery::OnTime, "judged one frame later");
        b.missed(2);
        c += 1;
        assert_eq!(b.on_frame(8, c, true), Delivery::OnTime);
        assert!(honest(&mut b, 9, 10, &mut c)
            .iter()
            .all(|d| *d == Delivery::OnTime));
    }

    #[test]
    fn frames_held_back_two_turns_are_a_delay_on_the_second_delayed_frame_and_end_with_it() {
        let mut b = TurnBook::default();
        let mut c = 0;
        honest(&mut b, 0, 5, &mut c);
        // From turn 5 on, every frame arrives two rounds after it was sent.
        let mut seen = Vec::new();
        for t in 7..12u64 {
            c += 1;
            seen.push(b.on_frame(t, c, true));
        }
        assert_eq!(seen[0], Delivery::OnTime, "one frame is not judged");
        assert!(seen[1..].iter().all(|d| *d == Delivery::Delayed(2)), "{seen:?}");
        // The attacker lets go in round 12: the frames of rounds 10, 11 and 12 arrive together.
        let released: Vec<Delivery> = (0..3)
            .map(|_| {
                c += 1;
                b.on_frame(12, c, true)
            })
            .collect();
        assert_eq!(
            released,
            [Delivery::Delayed(2), Delivery::Delayed(1), Delivery::OnTime]
        );
        assert!(honest(&mut b, 13, 5, &mut c)
            .iter()
            .all(|d| *d == Delivery::OnTime));
    }

    #[test]
    fn a_backlog_read_outside_its_turn_is_a_delay_at_once_and_an_early_one_is_not() {
        let mut b = TurnBook::default();
        let mut c = 0;
        honest(&mut b, 0, 5, &mut c);
        // Held 1.2 rounds: read one round late, and late in that round.
        c += 1;
        assert_eq!(b.on_frame(6, c, false), Delivery::Delayed(1));
        let mut b = TurnBook::default();
        let mut c = 0;
        honest(&mut b, 0, 5, &mut c);
        // Read just after the next round opened (in its turn window, so `in_turn`): not yet.
        c += 1;
        assert_eq!(b.on_frame(6, c, true), Delivery::OnTime);
    }

    #[test]
    fn a_stretched_delivery_is_a_growing_backlog() {
        let mut b = TurnBook::default();
        let mut c = 0;
        honest(&mut b, 0, 5, &mut c);
        // The attacker delivers one frame every other round: the slope would look halved.
        let mut last = Delivery::OnTime;
        for t in (6..40u64).step_by(2) {
            c += 1;
            last = b.on_frame(t, c, true);
        }
        assert!(matches!(last, Delivery::Delayed(n) if n >= 15), "{last:?}");
    }

    #[test]
    fn a_replanned_line_starts_a_fresh_account() {
        let mut b = TurnBook::default();
        let mut c = 0;
        honest(&mut b, 100, 5, &mut c);
        assert!(honest(&mut b, 0, 5, &mut c)
            .iter()
            .all(|d| *d == Delivery::OnTime));
    }
}
