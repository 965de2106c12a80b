//! Failover orders: what an overheat alert exists for. The seat is told to switch to its
//! standby, and told again every [`FAILOVER_RETRY_MS`] until its telemetry shows
//! `FAILOVER_ACTIVE`: a lost frame must not leave a seat about to overheat in service.

use hemiwatch_protocol::{Failover, Message, SeatId};

use super::task::StateTask;
use crate::alert::EventKind;

/// An unanswered `Failover` order is sent again this often until the seat's telemetry shows it.
const FAILOVER_RETRY_MS: u64 = 1_000;

impl StateTask {
    /// Orders a seat into failover now and until its telemetry shows it.
    pub(super) fn order_failover(&mut self, seat: SeatId, now: u64) {
        let Some(tracked) = self.seats.get_mut(&seat) else {
            return;
        };
        if tracked.failover_wanted {
            return;
        }
        tracked.failover_wanted = true;
        tracked.failover_sent_ms = None;
        tracing::warn!(seat, "failover ordered");
        self.record_event(
            now,
            Some(seat),
            None,
            EventKind::FailoverOrdered,
            "the seat is told to switch to its standby".into(),
        );
        self.send_failover(seat, now);
    }

    /// Sends the orders whose seat has not shown failover and whose last send is old enough.
    pub(super) fn retry_failovers(&mut self, now: u64) {
        let due: Vec<SeatId> = self
            .seats
            .iter()
            .filter(|(_, tracked)| {
                tracked.failover_wanted
                    && tracked
                        .failover_sent_ms
                        .is_none_or(|t| now.saturating_sub(t) >= FAILOVER_RETRY_MS)
            })
            .map(|(id, _)| *id)
            .collect();
        for seat in due {
            self.send_failover(seat, now);
        }
    }

    /// Encodes one `Failover` order for the seat's session and queues it for its line.
    fn send_failover(&mut self, seat: SeatId, now: u64) {
        let Some(tracked) = self.seats.get_mut(&seat) else {
            return;
        };
        tracked.failover_sent_ms = Some(now);
        match self
            .ingest
            .command(seat, &Message::Failover(Failover { active: true }), now)
        {
            Ok((counter, send)) => {
                tracing::debug!(seat, counter, "failover sent");
                self.outbound.push(send);
            }
            // Not reachable now (no session yet, never heard): the retry timer tries again.
            Err(e) => tracing::debug!(seat, error = %e, "failover not sent yet"),
        }
    }
}
