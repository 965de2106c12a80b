//! Storage records: what the state task hands the storage writer besides samples (which go as
//! one record per batch of frames, in [`super::task`]). The writer commits in batches on its own
//! thread; recording never blocks the state task.

use hemiwatch_protocol::SeatId;

use super::task::StateTask;
use crate::alert::{EventKind, Silence};
use crate::model::EventView;
use crate::storage::{Record, Storage, StoredSilence};

/// Records in storage; a refusal is logged (the writer logs why it stopped).
pub(super) fn store(storage: &Storage, record: Record) {
    if let Err(e) = storage.record(record) {
        tracing::error!(error = %e, "storage refused a record");
    }
}

/// Records an event (the seat panel's history and the audit trail). A free function so the state
/// task can record while it holds a seat's entries; [`StateTask::record_event`] is the method.
pub(super) fn store_event(
    storage: &Storage,
    at_ms: u64,
    seat: Option<SeatId>,
    line: Option<String>,
    kind: EventKind,
    detail: String,
) {
    store(
        storage,
        Record::Event(EventView {
            at_ms,
            seat,
            line,
            kind,
            detail,
        }),
    );
}

impl StateTask {
    /// Records an event (the seat panel's history and the audit trail) that happened at
    /// detection time `at_ms`, stamped on the wall clock.
    pub(super) fn record_event(
        &self,
        at_ms: u64,
        seat: Option<SeatId>,
        line: Option<String>,
        kind: EventKind,
        detail: String,
    ) {
        store_event(&self.storage, self.stamp(at_ms), seat, line, kind, detail);
    }

    /// Records a new silence, kept as its API view so a restart restores it as it was.
    pub(super) fn record_silence(&self, s: &Silence) {
        // The engine's times are detection times; stored ones are on the wall clock.
        let s = Silence {
            until_ms: self.stamp(s.until_ms),
            created_at_ms: self.stamp(s.created_at_ms),
            ..s.clone()
        };
        match serde_json::to_value(&s) {
            Ok(v) => store(
                &self.storage,
                Record::Silence(StoredSilence {
                    id: s.id,
                    until_ms: s.until_ms,
                    view: v,
                }),
            ),
            Err(e) => tracing::error!(silence = s.id, error = %e, "silence not serializable"),
        }
    }
}
