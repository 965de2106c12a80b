//! `hemiwatch replay`: the daemon's detectors and alert engine on recorded samples, with the
//! clock taken from the data. Deterministic (same file, same output), so a recorded incident can
//! be re-run after a detector change, and the quality benchmark scores exactly the code the
//! daemon runs.
//!
//! Input: CSV with the header `t_ms,seat,temp_centi`, one sample per row (unix ms or any
//! monotonic ms, seat id, centi-°C as the wire carries it). Rows may come in any order; they are
//! replayed sorted by time (stable, so equal times keep file order). Output: one JSON object per
//! alert state change, `{"at_ms", "seat", "kind", "state": "firing"|"resolved",
//! "predicted_critical_at_ms", "explanation"}` (the explanation: the trend's fit, on a firing
//! prediction), and one line `{"at_ms", "seat", "kind": "failover", "state": "ordered",
//! "explanation"}` at each moment the engine orders a failover. Only alerts that fired are
//! reported, and each once per transition (a pending alert that clears never reached a
//! technician either).
//!
//! What a replay cannot know: lines (so no `line_down`), the seat's own flags (so a sensor fault
//! comes only from out-of-range or stuck values) and its telemetry period, which is estimated as
//! the median interval between the seat's samples.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;

use hemiwatch_protocol::SeatId;
use serde::Serialize;

use crate::alert::{AlertChange, AlertEngine, AlertState, Kind, TICK_MS};
use crate::detect::trend::Prediction;
use crate::detect::{Sample, SeatRules};

/// One recorded sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Row {
    /// When, ms.
    pub t_ms: u64,
    /// Which seat.
    pub seat: SeatId,
    /// Temperature, centi-°C (the wire's unit).
    pub temp_centi: i16,
}

/// One alert state change, as printed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Transition {
    /// When (data clock).
    pub at_ms: u64,
    /// The seat.
    pub seat: Option<SeatId>,
    /// Alert kind (serialized as its stable name: `overheat_predicted`, `overheat`…).
    pub kind: Kind,
    /// `firing` or `resolved` (a pending alert is not a transition).
    pub state: AlertState,
    /// For predictions: when the seat is expected to reach critical.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub predicted_critical_at_ms: Option<u64>,
    /// For predictions: the fit behind it (model, slope, asymptote, τ, crossing interval).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<Prediction>,
}

/// The moment the engine orders a seat's failover, as printed:
/// `{"at_ms":…,"seat":…,"kind":"failover","state":"ordered",…}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FailoverLine {
    /// When (data clock).
    pub at_ms: u64,
    /// The seat.
    pub seat: SeatId,
    /// Always `failover`.
    pub kind: FailoverWord,
    /// Always `ordered`.
    pub state: OrderedWord,
    /// Why: the confident prediction (absent when a reached overheat ordered it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<Prediction>,
}

/// The `kind` of a [`FailoverLine`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum FailoverWord {
    /// `failover`.
    #[serde(rename = "failover")]
    Failover,
}

/// The `state` of a [`FailoverLine`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum OrderedWord {
    /// `ordered`.
    #[serde(rename = "ordered")]
    Ordered,
}

/// One output line of a replay, in time order.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Line {
    /// An alert state change.
    Alert(Transition),
    /// A failover order.
    Failover(FailoverLine),
}

/// Why a CSV cannot be replayed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// A row or the header is malformed; `line` is 1-based, as editors show it.
    #[error("line {line}: {message}")]
    Malformed {
        /// Line of the file.
        line: u64,
        /// What is wrong, in a sentence.
        message: String,
    },
    /// The file could not be read.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// The header the file must start with.
pub const HEADER: [&str; 3] = ["t_ms", "seat", "temp_centi"];

/// Reads and validates a whole CSV (every row checked before anything is replayed, so a bad
/// file produces an error and no partial output).
pub fn read_csv(input: impl Read) -> Result<Vec<Row>, ReplayError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(csv::Trim::All)
        .from_reader(input);
    let header = reader.headers().map_err(|e| csv_error(&e, 1))?.clone();
    if header.iter().collect::<Vec<_>>() != HEADER {
        return Err(ReplayError::Malformed {
            line: 1,
            message: format!(
                "the header must be `{}`, found `{}`",
                HEADER.join(","),
                header.iter().collect::<Vec<_>>().join(",")
            ),
        });
    }
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| csv_error(&e, 0))?;
        let line = record.position().map_or(0, |p| p.line());
        let field = |i: usize| record.get(i).unwrap_or_default();
        let bad = |message: String| ReplayError::Malformed { line, message };
        let t_ms = field(0)
            .parse::<u64>()
            .map_err(|_| bad(format!("t_ms `{}` is not a non-negative integer of ms", field(0))))?;
        let seat = field(1)
            .parse::<SeatId>()
            .ok()
            .filter(|s| *s > 0)
            .ok_or_else(|| {
                bad(format!(
                    "seat `{}` is not a seat id (1 to {})",
                    field(1),
                    SeatId::MAX
                ))
            })?;
        let temp_centi = field(2).parse::<i16>().map_err(|_| {
            bad(format!(
                "temp_centi `{}` is not an integer of centi-°C within {}..={} (the wire's range)",
                field(2),
                i16::MIN,
                i16::MAX
            ))
        })?;
        rows.push(Row {
            t_ms,
            seat,
            temp_centi,
        });
    }
    Ok(rows)
}

fn csv_error(e: &csv::Error, fallback_line: u64) -> ReplayError {
    let line = e.position().map_or(fallback_line, |p| p.line());
    match e.kind() {
        csv::ErrorKind::Io(io) => ReplayError::Io(std::io::Error::new(io.kind(), io.to_string())),
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => ReplayError::Malformed {
            line,
            message: format!("{len} fields where the header has {expected_len}"),
        },
        csv::ErrorKind::Utf8 { .. } => ReplayError::Malformed {
            line,
            message: "not valid UTF-8".into(),
        },
        _ => ReplayError::Malformed {
            line,
            message: e.to_string(),
        },
    }
}

/// Replays `rows` through the alert engine with `rules` per seat and returns the alert
/// transitions in order. Only the seats present in `rows` are watched.
pub fn replay(rows: &[Row], rules: impl Fn(SeatId) -> SeatRules) -> Vec<Transition> {
    replay_lines(rows, rules)
        .into_iter()
        .filter_map(|l| match l {
            Line::Alert(t) => Some(t),
            Line::Failover(_) => None,
        })
        .collect()
}

/// Replays `rows` and returns every output line in order: alert transitions and failover
/// orders (the trend detector's confident stage, or a firing kind that
/// [orders failover](Kind::orders_failover)), once per seat until the seat's alerts all resolve.
pub fn replay_lines(rows: &[Row], rules: impl Fn(SeatId) -> SeatRules) -> Vec<Line> {
    let mut rows = rows.to_vec();
    rows.sort_by_key(|r| r.t_ms);
    let Some(first) = rows.first().map(|r| r.t_ms) else {
        return Vec::new();
    };
    let periods = estimate_periods(&rows);
    let seats = periods.iter().map(|(seat, period)| SeatRules {
        line: None,
        period_ms: *period,
        ..rules(*seat)
    });
    let mut engine = AlertEngine::new(seats, first, 0);
    let mut firing = HashSet::new();
    let mut out = Vec::new();
    // Seats ordered into failover (the daemon orders a seat once until it is back in service).
    let mut ordered: HashSet<SeatId> = HashSet::new();
    let mut collect = |engine: &mut AlertEngine| {
        for change in engine.drain() {
            let (view, failover) = match change {
                AlertChange::Alert { view, failover, .. } => (view, failover),
                AlertChange::Failover(order) => {
                    if ordered.insert(order.seat) {
                        out.push(Line::Failover(FailoverLine {
                            at_ms: order.at_ms,
                            seat: order.seat,
                            kind: FailoverWord::Failover,
                            state: OrderedWord::Ordered,
                            explanation: Some(order.prediction),
                        }));
                    }
                    continue;
                }
                AlertChange::Silence(_) => continue,
            };
            let state = match view.state {
                AlertState::Firing if firing.insert(view.id) => AlertState::Firing,
                AlertState::Resolved if firing.remove(&view.id) => AlertState::Resolved,
                _ => continue,
            };
            let seat_clear = view
                .seat
                .filter(|s| state == AlertState::Resolved && engine.status(*s).is_none());
            let explanation = match (view.kind, view.seat) {
                (Kind::OverheatPredicted, Some(s)) if state == AlertState::Firing => engine.prediction(s),
                _ => None,
            };
            out.push(Line::Alert(Transition {
                at_ms: view.updated_at_ms,
                seat: view.seat,
                kind: view.kind,
                state,
                predicted_critical_at_ms: view.predicted_critical_at_ms,
                explanation,
            }));
            if let Some(seat) = failover.filter(|s| ordered.insert(*s)) {
                out.push(Line::Failover(FailoverLine {
                    at_ms: view.updated_at_ms,
                    seat,
                    kind: FailoverWord::Failover,
                    state: OrderedWord::Ordered,
                    explanation: None,
                }));
            }
            if let Some(s) = seat_clear {
                ordered.remove(&s);
            }
        }
    };
    // The daemon's clock runs every TICK_MS; so does the data clock here, between samples.
    let mut next_tick = first;
    for row in &rows {
        while next_tick <= row.t_ms {
            engine.tick(next_tick);
            collect(&mut engine);
            next_tick += TICK_MS;
        }
        engine.on_heard(row.seat, None, row.t_ms);
        engine.on_sample(
            row.seat,
            Sample {
                t_ms: row.t_ms,
                temp_c: Some(f64::from(row.temp_centi) / 100.0),
                flags: 0,
            },
        );
        collect(&mut engine);
    }
    out
}

/// Median interval between each seat's samples (the default telemetry period,
/// [`crate::config::DEFAULT_PERIOD_MS`], for a seat with a single sample).
fn estimate_periods(sorted: &[Row]) -> BTreeMap<SeatId, u64> {
    let mut last: BTreeMap<SeatId, u64> = BTreeMap::new();
    let mut gaps: BTreeMap<SeatId, Vec<u64>> = BTreeMap::new();
    for r in sorted {
        let g = gaps.entry(r.seat).or_default();
        if let Some(prev) = last.insert(r.seat, r.t_ms) {
            if r.t_ms > prev {
                g.push(r.t_ms - prev);
            }
        }
    }
    gaps.into_iter()
        .map(|(seat, mut g)| {
            g.sort_unstable();
            (
                seat,
                g.get(g.len() / 2)
                    .copied()
                    .unwrap_or(crate::config::DEFAULT_PERIOD_MS as u64),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn csv(rows: &str) -> Result<Vec<Row>, ReplayError> {
        read_csv(format!("t_ms,seat,temp_centi\n{rows}").as_bytes())
    }

    #[test]
    fn malformed_rows_name_their_line() {
        for (rows, line, words) in [
            ("0,1,4000\n500,x,4000\n", 3, "seat `x`"),
            ("0,1,4000\n500,1\n", 3, "2 fields"),
            ("-5,1,4000\n", 2, "t_ms `-5`"),
            ("0,1,40000\n", 2, "temp_centi `40000`"),
            ("0,0,4000\n", 2, "seat `0`"),
        ] {
            let e = csv(rows).unwrap_err().to_string();
            assert!(e.starts_with(&format!("line {line}: ")), "{rows:?}: {e}");
            assert!(e.contains(words), "{rows:?}: {e}");
        }
        let e = read_csv("time,seat,temp\n1,1,1\n".as_bytes())
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("line 1: the header must be"), "{e}");
    }

    #[test]
    fn a_runaway_fires_a_prediction_then_an_overheat_and_a_gap_a_silence() {
        // 2 Hz at 40 °C for 3 min, then +4 °C/min until 90 °C; then 10 s of silence, then back.
        let mut rows = Vec::new();
        let mut t = 0u64;
        let mut temp = 40.0f64;
        while temp < 90.0 {
            rows.push(Row {
                t_ms: t,
                seat: 7,
                temp_centi: (temp * 100.0).round() as i16,
            });
            t += 500;
            if t > 180_000 {
                temp += 4.0 / 120.0;
            }
        }
        let crossing = rows
            .iter()
            .find(|r| r.temp_centi >= 8500)
            .map(|r| r.t_ms)
            .unwrap();
        let resume = t + 10_000;
        for i in 0..20 {
            rows.push(Row {
                t_ms: resume + i * 500,
                seat: 7,
                temp_centi: 9000,
            });
        }
        let out = replay(&rows, SeatRules::defaults);
        let first = |kind: Kind, state: AlertState| {
            out.iter()
                .find(|x| x.kind == kind && x.state == state)
                .unwrap_or_else(|| panic!("no {kind} {state} in {out:#?}"))
        };
        let predicted = first(Kind::OverheatPredicted, AlertState::Firing);
        assert!(
            predicted.at_ms + 60_000 <= crossing,
            "{predicted:?} vs crossing {crossing}"
        );
        let eta = predicted.predicted_critical_at_ms.unwrap();
        assert!(eta.abs_diff(crossing) < 120_000, "eta {eta} vs {crossing}");
        assert!(first(Kind::Overheat, AlertState::Firing).at_ms >= crossing);
        let silent = first(Kind::SeatSilent, AlertState::Firing);
        assert!(
            silent.at_ms > t && silent.at_ms <= t + 2_500,
            "{silent:?} after {t}"
        );
        assert!(first(Kind::SeatSilent, AlertState::Resolved).at_ms >= resume);
        // Deterministic: the same rows, shuffled, give the same output.
        let mut shuffled = rows.clone();
        shuffled.reverse();
        assert_eq!(replay(&shuffled, SeatRules::defaults), out);
    }
}
