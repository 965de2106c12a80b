//! Seats: the explicit `[[seat]]` entries merged over the seats `[hemicycle]` generates (same
//! id: override; new id: an added seat, which then needs its placement and key), and the
//! finished [`SeatSettings`] with their thresholds layered and keys read.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::PathBuf;

use hemiwatch_protocol::SeatId;
use serde::Deserialize;
use serde_spanned::Spanned;

use super::keys::{key_file_name, KeySource, KeyTally};
use super::limits::MAX_SEAT_ID;
use super::resolve::{list_or_none, Resolver};
use super::schema::{Board, File, HexKey, HumanDuration};
use super::settings::SeatSettings;
use super::thresholds::Thresholds;
use crate::model::SeatPlace;

/// `[[seat]]`: a new seat (placement and key required) or an override of a generated one.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SeatEntry {
    /// Wire address (i64 so that 0, -1 or 70000 get the range sentence, not a type error).
    pub id: Spanned<i64>,
    /// Human label.
    pub label: Option<Spanned<String>>,
    /// Sector of the hemicycle.
    pub sector: Option<Spanned<String>>,
    /// Row, 1 = innermost.
    pub row: Option<Spanned<u16>>,
    /// Index along the whole row, 1 = leftmost.
    pub position: Option<Spanned<u16>>,
    /// Line the seat is wired to.
    pub line: Option<Spanned<String>>,
    /// Inline key.
    pub key: Option<Spanned<HexKey>>,
    /// Key file, relative to the config's folder.
    pub key_file: Option<Spanned<PathBuf>>,
    /// Board kind, for `[board.<kind>]` thresholds.
    pub board: Option<Spanned<Board>>,
    /// Override of `[thresholds] warn_c`.
    pub warn_c: Option<Spanned<f64>>,
    /// Override of `[thresholds] critical_c`.
    pub critical_c: Option<Spanned<f64>>,
    /// Override of `[thresholds] emergency_c`.
    pub emergency_c: Option<Spanned<f64>>,
    /// Override of `[thresholds] warn_clear_c`.
    pub warn_clear_c: Option<Spanned<f64>>,
    /// Override of `[thresholds] critical_clear_c`.
    pub critical_clear_c: Option<Spanned<f64>>,
    /// Override of `[thresholds] emergency_clear_c`.
    pub emergency_clear_c: Option<Spanned<f64>>,
    /// Override of `[thresholds] dwell`.
    pub dwell: Option<Spanned<HumanDuration>>,
    /// Override of `[thresholds] clear_dwell`.
    pub clear_dwell: Option<Spanned<HumanDuration>>,
    /// Override of `[thresholds] horizon`.
    pub horizon: Option<Spanned<HumanDuration>>,
    /// Override of `[thresholds] telemetry_period_ms`.
    pub telemetry_period_ms: Option<Spanned<i64>>,
    /// Keys whose values were invalid (already reported), so their absence is not reported too.
    #[serde(skip)]
    pub bad_keys: Vec<String>,
}

impl SeatEntry {
    /// The seat's own threshold overrides.
    pub fn thresholds(&self) -> Thresholds {
        Thresholds {
            warn_c: self.warn_c.clone(),
            critical_c: self.critical_c.clone(),
            emergency_c: self.emergency_c.clone(),
            warn_clear_c: self.warn_clear_c.clone(),
            critical_clear_c: self.critical_clear_c.clone(),
            emergency_clear_c: self.emergency_clear_c.clone(),
            dwell: self.dwell.clone(),
            clear_dwell: self.clear_dwell.clone(),
            horizon: self.horizon.clone(),
            telemetry_period_ms: self.telemetry_period_ms.clone(),
        }
    }
}

/// A seat being assembled from the generator and/or its `[[seat]]` entry.
#[derive(Clone, Debug)]
pub(super) struct Draft {
    /// Wire address.
    pub id: SeatId,
    /// Label, if given (else derived from the placement when finished).
    pub label: Option<String>,
    /// Sector, row and position: all three are needed to place the seat.
    pub sector: Option<String>,
    /// Row, 1 = innermost.
    pub row: Option<u16>,
    /// Index along the whole row, 1 = leftmost.
    pub position: Option<u16>,
    /// Line the seat is wired to.
    pub line: Option<String>,
    /// Where its key comes from.
    pub key: Option<KeySource>,
    /// Board kind, for `[board.<kind>]` thresholds.
    pub board: Option<Board>,
    /// The explicit `[[seat]]`, if any (thresholds, spans for errors).
    pub entry: Option<SeatEntry>,
}

impl Resolver<'_> {
    /// Merges the `[[seat]]` entries into `drafts` (the generated seats), checking ids, lines,
    /// keys and, for an added seat, that its placement and key are given.
    pub(super) fn explicit_seats(
        &mut self,
        file: &File,
        line_names: &[String],
        drafts: &mut BTreeMap<SeatId, Draft>,
    ) {
        let policy = match &file.hemicycle {
            // Errors of the policy were reported with the hemicycle; don't repeat them.
            Some(h) => {
                let mut quiet = Resolver::new(self.src, self.base, None, self.read_files, self.env);
                quiet.key_policy(h.get_ref(), file, h.span())
            }
            None => None,
        };
        let mut first: BTreeMap<i64, Range<usize>> = BTreeMap::new();
        for s in &file.seats {
            let id = *s.id.get_ref();
            if !(1..=MAX_SEAT_ID).contains(&id) {
                self.err(
                    s.id.span(),
                    format!(
                        "seat id {id} is out of range: ids go from 1 to {MAX_SEAT_ID} (the protocol's 2-byte address)"
                    ),
                );
                continue;
            }
            if let Some(at) = first.get(&id) {
                let at = self.src.at(at.clone());
                self.err(s.id.span(), format!("seat {id} is defined twice (first at {at})"));
                continue;
            }
            first.insert(id, s.id.span());
            let id = id as SeatId;
            for (name, v) in [("row", &s.row), ("position", &s.position)] {
                if let Some(v) = v {
                    if *v.get_ref() == 0 {
                        self.err(
                            v.span(),
                            format!(
                                "{name} of seat {id} must be 1 or more (1 = innermost row / leftmost seat)"
                            ),
                        );
                    }
                }
            }
            if let Some(line) = &s.line {
                if !line_names.contains(line.get_ref()) && !file.lines_dropped {
                    self.err(
                        line.span(),
                        format!(
                            "line `{}` of seat {id} is not defined; defined lines: {}",
                            line.get_ref(),
                            list_or_none(line_names)
                        ),
                    );
                }
            }
            let explicit_key = match (&s.key, &s.key_file) {
                (Some(_), Some(f)) => {
                    self.err(f.span(), format!("seat {id} has both key and key_file; keep one"));
                    None
                }
                (Some(k), None) => Some(KeySource::Inline(k.get_ref().0.clone())),
                (None, Some(f)) => Some(KeySource::File(f.clone())),
                (None, None) => None,
            };
            let d = drafts.entry(id).or_insert_with(|| Draft {
                id,
                label: None,
                sector: None,
                row: None,
                position: None,
                line: None,
                key: None,
                board: None,
                entry: None,
            });
            let generated = d.sector.is_some();
            if let Some(v) = &s.sector {
                d.sector = Some(v.get_ref().clone());
            }
            if let Some(v) = &s.row {
                d.row = Some(*v.get_ref());
            }
            if let Some(v) = &s.position {
                d.position = Some(*v.get_ref());
            }
            if let Some(v) = &s.label {
                d.label = Some(v.get_ref().clone());
            }
            if let Some(v) = &s.line {
                d.line = Some(v.get_ref().clone());
            }
            if let Some(v) = &s.board {
                d.board = Some(*v.get_ref());
            }
            if explicit_key.is_some() {
                d.key = explicit_key;
            } else if d.key.is_none() && s.key.is_none() && s.key_file.is_none() {
                d.key = policy.as_ref().map(|p| p(id));
            }
            d.entry = Some(s.clone());
            // A seat the broken [hemicycle] would have generated: nothing sure to say about it.
            let unsure = file.hemicycle_dropped || self.hemicycle_failed;
            if !generated && !unsure {
                let missing: Vec<&str> = [
                    ("sector", d.sector.is_none()),
                    ("row", d.row.is_none()),
                    ("position", d.position.is_none()),
                ]
                .iter()
                .filter(|(n, m)| *m && !s.bad_keys.iter().any(|b| b == n))
                .map(|(n, _)| *n)
                .collect();
                if !missing.is_empty() {
                    self.err(
                        s.id.span(),
                        format!(
                            "seat {id} needs {} (it is not generated by [hemicycle])",
                            missing.join(", ")
                        ),
                    );
                }
                let bad_key = s.bad_keys.iter().any(|b| b == "key" || b == "key_file")
                    || file
                        .hemicycle_bad_keys
                        .iter()
                        .any(|b| b == "keys" || b == "key_dir");
                if d.key.is_none() && s.key.is_none() && s.key_file.is_none() && !bad_key {
                    self.err(
                        s.id.span(),
                        format!(
                            "seat {id} has no key: add key = \"<32 hex digits>\" or key_file = \"keys/{}\"",
                            key_file_name(id)
                        ),
                    );
                }
            }
        }
    }

    /// The seats as the daemon runs them: thresholds layered (board, then seat) on the
    /// defaults, keys read.
    pub(super) fn finish_seats(
        &mut self,
        file: &File,
        boards: &BTreeMap<Board, Thresholds>,
        drafts: BTreeMap<SeatId, Draft>,
    ) -> Vec<SeatSettings> {
        let mut tally = KeyTally::default();
        let mut seats = Vec::with_capacity(drafts.len());
        for d in drafts.into_values() {
            let base = d
                .board
                .and_then(|b| boards.get(&b).cloned())
                .unwrap_or_else(|| file.thresholds.clone());
            let t = match &d.entry {
                Some(e) => {
                    let own = e.thresholds();
                    let merged = base.overlay(&own);
                    if own.is_set() {
                        self.check_layer(&merged, &own, &format!(" for seat {}", d.id));
                    }
                    merged
                }
                None => base,
            }
            .effective();
            let key = self.seat_key(d.id, d.key.as_ref(), file, &mut tally);
            let label = d.label.clone().unwrap_or_else(|| {
                format!(
                    "{}-{:02}-{:02}",
                    d.sector.as_deref().unwrap_or("?"),
                    d.row.unwrap_or(0),
                    d.position.unwrap_or(0)
                )
            });
            seats.push(SeatSettings {
                place: SeatPlace {
                    id: d.id,
                    label,
                    sector: d.sector.clone().unwrap_or_default(),
                    row: d.row.unwrap_or(0),
                    position: d.position.unwrap_or(0),
                    line: d.line.clone(),
                },
                key,
                tiers: t.tiers,
                horizon_s: t.horizon.as_secs(),
                period_ms: t.period_ms,
            });
        }
        self.report_keys(file, tally);
        seats
    }
}
