//! Reading: start-up restore, seat history and events for the dashboard. Each reader has its own
//! connection, so a long chart query never delays the writer (WAL).

use std::path::Path;

use hemiwatch_protocol::SeatId;
use rusqlite::{params, Connection, OpenFlags};

use super::{StorageError, StoredSilence};
use crate::alert::{AlertState, EventKind};
use crate::model::{AlertView, EventView, HistoryPoint};

/// Ranges up to this long are answered with raw samples; longer ones with 1-minute points, so a
/// 90-day chart is 130 k points at most per seat, not 15 M.
const RAW_RANGE_MS: u64 = 2 * 3_600_000;

/// What the daemon needs back after a restart.
#[derive(Clone, Debug, Default)]
pub struct Restored {
    /// Alerts not resolved (pending, firing), acknowledged or not.
    pub open_alerts: Vec<AlertView>,
    /// Silences not yet expired at open time.
    pub silences: Vec<StoredSilence>,
    /// Highest alert id ever written (new ids continue after it).
    pub max_alert_id: i64,
    /// Highest silence id ever written.
    pub max_silence_id: i64,
    /// What was last known of each seat.
    pub seats: Vec<SeatRecord>,
    /// The file could not be opened and was replaced: what was kept and lost.
    pub recovery: Option<super::Recovery>,
    /// Boots whose `Hello` opened a session: `(seat, boot_id, highest hello counter)`, oldest
    /// first, so that ingest refuses their replays.
    pub hellos: Vec<(SeatId, u32, u32)>,
}

/// Last known facts about a seat.
#[derive(Clone, Debug, PartialEq)]
pub struct SeatRecord {
    /// Seat.
    pub id: SeatId,
    /// Boot identity of its last session.
    pub boot_id: Option<u32>,
    /// Firmware version from its last `Hello`.
    pub firmware: Option<String>,
    /// Board kind.
    pub board: Option<String>,
    /// Unix ms it was last heard.
    pub last_seen_ms: Option<u64>,
}

pub(super) fn restore(conn: &Connection) -> Result<Restored, StorageError> {
    let now = crate::unix_ms() as i64;
    let mut open_alerts = Vec::new();
    let mut stmt = conn.prepare("SELECT view FROM alerts WHERE state != ?1 ORDER BY id")?;
    for json in stmt.query_map(params![AlertState::Resolved.name()], |r| r.get::<_, String>(0))? {
        let value: serde_json::Value = serde_json::from_str(&json?)?;
        // A kind this version does not know (a newer daemon wrote it) is left behind.
        match serde_json::from_value(value) {
            Ok(view) => open_alerts.push(view),
            Err(e) => tracing::warn!(error = %e, "stored open alert not understood; not restored"),
        }
    }
    let mut silences = Vec::new();
    let mut stmt = conn.prepare("SELECT id, until_ms, view FROM silences WHERE until_ms > ?1 ORDER BY id")?;
    let rows = stmt.query_map(params![now], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?, r.get::<_, String>(2)?))
    })?;
    for row in rows {
        let (id, until_ms, view) = row?;
        silences.push(StoredSilence {
            id,
            until_ms: until_ms as u64,
            view: serde_json::from_str(&view)?,
        });
    }
    let max_alert_id = conn.query_row("SELECT COALESCE(MAX(id), 0) FROM alerts", [], |r| r.get(0))?;
    let max_silence_id = conn.query_row("SELECT COALESCE(MAX(id), 0) FROM silences", [], |r| r.get(0))?;
    let mut seats = Vec::new();
    let mut stmt =
        conn.prepare("SELECT id, boot_id, firmware, board, last_seen_ms FROM seats ORDER BY id")?;
    let rows = stmt.query_map([], |r| {
        Ok(SeatRecord {
            id: r.get(0)?,
            boot_id: r.get(1)?,
            firmware: r.get(2)?,
            board: r.get(3)?,
            last_seen_ms: r.get::<_, Option<i64>>(4)?.map(|v| v as u64),
        })
    })?;
    for row in rows {
        seats.push(row?);
    }
    let mut hellos = Vec::new();
    let mut stmt = conn.prepare("SELECT seat, boot_id, counter FROM hellos ORDER BY at_ms")?;
    for row in stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))? {
        hellos.push(row?);
    }
    Ok(Restored {
        hellos,
        open_alerts,
        silences,
        max_alert_id,
        max_silence_id,
        seats,
        recovery: None,
    })
}

/// A read connection.
#[derive(Debug)]
pub struct Reader {
    conn: Connection,
}

impl Reader {
    /// Opens a read-only connection on an existing database.
    pub fn open(path: &Path) -> Result<Self, StorageError> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        Ok(Self { conn })
    }

    /// A seat's temperature between two instants, oldest first: raw samples for ranges up to 2 h,
    /// 1-minute points (rollups, and raw samples grouped by minute) beyond.
    pub fn samples(&self, seat: SeatId, from_ms: u64, to_ms: u64) -> Result<Vec<HistoryPoint>, StorageError> {
        let (from, to) = (from_ms as i64, to_ms as i64);
        let point = |t: i64, min: i64, max: i64, mean: f64| HistoryPoint {
            t_ms: t as u64,
            mean_c: mean / 100.0,
            min_c: min as f64 / 100.0,
            max_c: max as f64 / 100.0,
        };
        let mut out = Vec::new();
        if to_ms.saturating_sub(from_ms) <= RAW_RANGE_MS {
            let mut stmt = self.conn.prepare_cached(
                "SELECT t_ms, temp_centi FROM samples WHERE seat = ?1 AND t_ms BETWEEN ?2 AND ?3 ORDER BY t_ms",
            )?;
            let rows = stmt.query_map(params![seat, from, to], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
            })?;
            for row in rows {
                let (t, c) = row?;
                out.push(point(t, c, c, c as f64));
            }
            // Older parts of a short range may only exist as rollups (raw window passed).
            if out.first().is_none_or(|p| p.t_ms > from_ms + 60_000) {
                let mut rolled = self.rollups(seat, from, to, out.first().map(|p| p.t_ms as i64))?;
                rolled.append(&mut out);
                out = rolled;
            }
            return Ok(out);
        }
        let mut stmt = self.conn.prepare_cached(
            "SELECT minute_ms, min_centi, max_centi, sum_centi, n FROM (
               SELECT minute_ms, min_centi, max_centi, sum_centi, n FROM rollups
                 WHERE seat = ?1 AND minute_ms BETWEEN ?2 AND ?3
               UNION ALL
               SELECT (t_ms / 60000) * 60000, MIN(temp_centi), MAX(temp_centi), SUM(temp_centi), COUNT(*)
                 FROM samples WHERE seat = ?1 AND t_ms BETWEEN ?2 AND ?3 GROUP BY t_ms / 60000
             ) ORDER BY minute_ms",
        )?;
        let rows = stmt.query_map(params![seat, from, to], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })?;
        for row in rows {
            let (t, min, max, sum, n) = row?;
            out.push(point(t, min, max, sum as f64 / n.max(1) as f64));
        }
        Ok(out)
    }

    fn rollups(
        &self,
        seat: SeatId,
        from: i64,
        to: i64,
        before: Option<i64>,
    ) -> Result<Vec<HistoryPoint>, StorageError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT minute_ms, min_centi, max_centi, sum_centi, n FROM rollups
             WHERE seat = ?1 AND minute_ms BETWEEN ?2 AND ?3 ORDER BY minute_ms",
        )?;
        let end = before.map_or(to, |b| b.min(to) - 1);
        let rows = stmt.query_map(params![seat, from, end], |r| {
            let n: i64 = r.get(4)?;
            Ok(HistoryPoint {
                t_ms: r.get::<_, i64>(0)? as u64,
                min_c: r.get::<_, i64>(1)? as f64 / 100.0,
                max_c: r.get::<_, i64>(2)? as f64 / 100.0,
                mean_c: r.get::<_, i64>(3)? as f64 / 100.0 / n.max(1) as f64,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// A seat's most recent events, newest first.
    pub fn events(&self, seat: SeatId, limit: usize) -> Result<Vec<EventView>, StorageError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT at_ms, seat, line, kind, detail FROM events WHERE seat = ?1 ORDER BY at_ms DESC, id DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![seat, limit as i64], |r| {
            Ok(EventView {
                at_ms: r.get::<_, i64>(0)? as u64,
                seat: r.get(1)?,
                line: r.get(2)?,
                kind: EventKind::from_name(&r.get::<_, String>(3)?),
                detail: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Every recorded state change of one alert, oldest first (the audit trail).
    pub fn alert_history(&self, id: i64) -> Result<Vec<AlertView>, StorageError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT view FROM alert_history WHERE alert_id = ?1 ORDER BY at_ms, rowid")?;
        let rows = stmt.query_map(params![id], |r| r.get::<_, String>(0))?;
        let mut out = Vec::new();
        for json in rows {
            out.push(serde_json::from_str(&json?)?);
        }
        Ok(out)
    }

    /// Number of raw samples stored (tests, `status`).
    pub fn sample_count(&self) -> Result<u64, StorageError> {
        Ok(self
            .conn
            .query_row("SELECT COUNT(*) FROM samples", [], |r| r.get::<_, i64>(0))? as u64)
    }
}
