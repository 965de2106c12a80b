//! Taking back what was open before a restart: open alerts (with their acknowledgements) and
//! unexpired silences. Detectors start afresh; a restored alert resolves only on new evidence.

use super::{AlertEngine, AlertState, OpenAlert, Silence, Subject};
use crate::model::AlertView;

impl AlertEngine {
    /// Takes back the open `alerts` and the `silences` storage kept; silence ids continue after
    /// `max_silence_id`.
    pub fn restore(&mut self, alerts: Vec<AlertView>, silences: Vec<Silence>, max_silence_id: i64) {
        for view in alerts {
            let kind = view.kind;
            let subject = match (&view.seat, &view.line) {
                (Some(seat), _) => Subject::Seat(*seat),
                (None, Some(line)) => Subject::Line(line.clone()),
                (None, None) => Subject::Daemon,
            };
            self.next_id = self.next_id.max(view.id + 1);
            if let Subject::Seat(seat) = &subject {
                if let Some(w) = self.seats.get_mut(seat) {
                    w.hold_episode(kind);
                }
            }
            if let Subject::Line(l) = &subject {
                self.lines.entry(l.clone()).or_default().alert_open = true;
            }
            self.by_key.insert((kind, subject.clone()), view.id);
            let notified = view.state == AlertState::Firing && !view.silenced;
            self.open.insert(
                view.id,
                OpenAlert {
                    view,
                    subject,
                    notified,
                },
            );
        }
        self.next_silence_id = self.next_silence_id.max(max_silence_id + 1);
        self.silences = silences;
    }
}
