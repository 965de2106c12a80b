//! Placement: two seats cannot sit in the same place (sector, row, position). When they do,
//! the error points at the explicit `[[seat]]` — the likely culprit — rather than at the
//! generator.

use std::collections::BTreeMap;
use std::ops::Range;

use hemiwatch_protocol::SeatId;

use super::resolve::Resolver;
use super::schema::File;
use super::seats::{Draft, SeatEntry};

impl Resolver<'_> {
    /// Two seats cannot sit in the same place.
    pub(super) fn check_places(&mut self, drafts: &BTreeMap<SeatId, Draft>, file: &File) {
        let mut taken: BTreeMap<(&str, u16, u16), &Draft> = BTreeMap::new();
        for d in drafts.values() {
            let (Some(sector), Some(row), Some(pos)) = (&d.sector, d.row, d.position) else {
                continue;
            };
            if let Some(other) = taken.get(&(sector.as_str(), row, pos)) {
                // Point at an explicit [[seat]], the likely culprit.
                let (culprit, span) = match (&d.entry, &other.entry) {
                    (Some(e), _) => (d.id, place_span(e)),
                    (None, Some(e)) => (other.id, place_span(e)),
                    (None, None) => (d.id, file.hemicycle.as_ref().map(|h| h.span()).unwrap_or(0..0)),
                };
                let other_id = if culprit == d.id { other.id } else { d.id };
                self.err(
                    span,
                    format!(
                        "seat {culprit} is placed at sector {sector}, row {row}, position {pos}, where seat {other_id} already sits"
                    ),
                );
            } else {
                taken.insert((sector.as_str(), row, pos), d);
            }
        }
    }
}

/// The span of the placement of an explicit seat (position, else row, else sector, else id).
fn place_span(e: &SeatEntry) -> Range<usize> {
    e.position
        .as_ref()
        .map(|v| v.span())
        .or_else(|| e.row.as_ref().map(|v| v.span()))
        .or_else(|| e.sector.as_ref().map(|v| v.span()))
        .unwrap_or_else(|| e.id.span())
}
