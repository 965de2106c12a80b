//! [`File`] → [`Settings`]: meaning checks (duplicate ids, undefined lines, thresholds, ranges),
//! the `[hemicycle]` generator, key files, defaults and the layering of thresholds
//! (`[thresholds]` → `[board.<kind>]` → `[[seat]]`). Runs twice: without touching the
//! filesystem or the environment when a file is parsed (so `parse` rejects what is wrong in the
//! text itself), and for real when the daemon's settings are built.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hemiwatch_protocol::{SeatId, SeatKey};
use serde_spanned::Spanned;

use super::error::{ConfigError, Source};
use super::schema::{Board, File, HemicycleSection, KeysPolicy, SeatEntry, SinkKind, Thresholds};
use super::settings::{LineSettings, SeatSettings, Settings};
use crate::model::SeatPlace;
use crate::sink::{AlertmanagerSink, ExecSink, Sink, WebhookSink};
use crate::source::Endpoint;

/// Highest seat id: the frame address is the postcard varint of `(seat << 4) | kind`, which stays
/// within the 2 bytes of the protocol's size budget up to seat 1023 (`protocol/src/frame.rs`).
pub const MAX_SEAT_ID: i64 = 1023;
/// The TMP105 measures −55 °C to +125 °C (TI SBOS360, "Specified temperature range"); a
/// threshold outside cannot be reached by a reading.
pub const SENSOR_MIN_C: f64 = -55.0;
/// See [`SENSOR_MIN_C`].
pub const SENSOR_MAX_C: f64 = 125.0;
/// Default warn threshold, °C (issue 6: "defaults: warn 70 °C, critical 85 °C").
pub const DEFAULT_WARN_C: f64 = 70.0;
/// Default critical threshold, °C.
pub const DEFAULT_CRITICAL_C: f64 = 85.0;
/// Default prediction horizon: five minutes is enough for an usher to switch a console to its
/// standby during a sitting.
pub const DEFAULT_HORIZON: Duration = Duration::from_secs(300);
/// Default telemetry period, ms (2 Hz, the rate the hemicycle's figures assume).
pub const DEFAULT_PERIOD_MS: i64 = 500;
/// Shortest telemetry period accepted: below 100 ms, 50 seats of ~28-byte frames exceed what a
/// 115 200-baud line carries (11 520 bytes/s).
pub const MIN_PERIOD_MS: i64 = 100;
/// Longest telemetry period accepted: 60 s (the wire field is a u16 of ms, ≤ 65 535, and a
/// longer period would make a silent seat undetectable for minutes).
pub const MAX_PERIOD_MS: i64 = 60_000;
/// Default serial speed: what the seat boards' UARTs run at.
pub const DEFAULT_BAUD: u32 = 115_200;
/// Default HTTP bind: loopback only, so a fresh install exposes nothing to the network.
pub const DEFAULT_HTTP_BIND: &str = "127.0.0.1:7577";
/// Default sink timeout per delivery attempt.
pub const DEFAULT_SINK_TIMEOUT: Duration = Duration::from_secs(5);

/// How the resolver reads an environment variable (`std::env::var` unless a test injects one).
pub(crate) type EnvLookup<'a> = &'a dyn Fn(&str) -> Result<String, std::env::VarError>;

/// Resolution state: where relative paths start, whether to read files, and what went wrong.
pub(crate) struct Resolver<'a> {
    src: &'a Source,
    env: EnvLookup<'a>,
    base: &'a Path,
    data_dir_override: Option<&'a Path>,
    read_files: bool,
    errors: Vec<ConfigError>,
    /// `[hemicycle]` was read but describes no valid room (its errors are reported).
    hemicycle_failed: bool,
    /// Log the demo-keys warning (off when the caller prints it itself).
    warn_demo_keys: bool,
}

/// Where a seat's key comes from, before files are read.
#[derive(Clone, Debug)]
enum KeySource {
    Inline(SeatKey),
    /// `key_file`, as written and the span to point at.
    File(Spanned<PathBuf>),
    /// `keys = "demo"`.
    Demo,
    /// A file in `key_dir`, reported together with the other missing ones.
    Dir(PathBuf),
}

/// A seat being assembled from the generator and/or its `[[seat]]` entry.
#[derive(Clone, Debug)]
struct Draft {
    id: SeatId,
    label: Option<String>,
    sector: Option<String>,
    row: Option<u16>,
    position: Option<u16>,
    line: Option<String>,
    key: Option<KeySource>,
    board: Option<Board>,
    /// The explicit `[[seat]]`, if any (thresholds, spans for errors).
    entry: Option<SeatEntry>,
}

impl<'a> Resolver<'a> {
    pub(crate) fn new(
        src: &'a Source,
        base: &'a Path,
        data_dir_override: Option<&'a Path>,
        read_files: bool,
        env: EnvLookup<'a>,
    ) -> Self {
        Self {
            src,
            env,
            base,
            data_dir_override,
            read_files,
            errors: Vec::new(),
            hemicycle_failed: false,
            warn_demo_keys: true,
        }
    }

    /// Does not log the demo-keys warning (`check-config` prints it in its summary).
    pub(crate) fn quiet_about_demo_keys(mut self) -> Self {
        self.warn_demo_keys = false;
        self
    }

    fn err(&mut self, span: Range<usize>, msg: impl Into<String>) {
        self.errors.push(self.src.error(span, msg));
    }

    /// Resolves everything; `Err` holds every error found.
    pub(crate) fn resolve(mut self, file: &File) -> Result<Settings, Vec<ConfigError>> {
        self.check_layer(&file.thresholds, &file.thresholds, "");
        let mut boards: BTreeMap<Board, Thresholds> = BTreeMap::new();
        let mut board_spans: BTreeMap<Board, Range<usize>> = BTreeMap::new();
        for (board, t) in &file.boards {
            let merged = file.thresholds.overlay(t);
            self.check_layer(&merged, t, &format!(" in [board.{}]", board.get_ref().name()));
            boards.insert(*board.get_ref(), merged);
            board_spans.insert(*board.get_ref(), board.span());
        }
        let (lines, line_names) = self.lines(file);
        let mut drafts = match &file.hemicycle {
            Some(h) => self.hemicycle(h, file, &line_names),
            None => BTreeMap::new(),
        };
        self.explicit_seats(file, &line_names, &mut drafts);
        self.check_places(&drafts, file);
        let seats = self.finish_seats(file, &boards, drafts);
        let sinks = self.sinks(file);
        let (http_bind, api_token) = self.daemon(file);
        let (database, raw_retention, rollup_retention, flush_interval) = self.storage(file);
        if !self.errors.is_empty() {
            return Err(self.errors);
        }
        Ok(Settings {
            lines,
            seats,
            http_bind,
            api_token,
            database,
            raw_retention,
            rollup_retention,
            flush_interval,
            sinks,
        })
    }

    /// Range checks of the values a layer sets, and warn < critical once merged.
    fn check_layer(&mut self, merged: &Thresholds, own: &Thresholds, what: &str) {
        for (name, v) in [("warn_c", &own.warn_c), ("critical_c", &own.critical_c)] {
            if let Some(v) = v {
                let c = *v.get_ref();
                if !(SENSOR_MIN_C..=SENSOR_MAX_C).contains(&c) {
                    self.err(
                        v.span(),
                        format!(
                            "{name} {c}{what} is outside what the TMP105 sensor measures ({SENSOR_MIN_C} to {SENSOR_MAX_C} °C)"
                        ),
                    );
                }
            }
        }
        if let Some(h) = &own.horizon {
            let d = h.get_ref().0;
            if d < Duration::from_secs(1) || d > Duration::from_secs(3600) {
                self.err(
                    h.span(),
                    format!(
                        "horizon {}{what} must be between 1s and 1h",
                        humantime::format_duration(d)
                    ),
                );
            }
        }
        if let Some(p) = &own.telemetry_period_ms {
            let v = *p.get_ref();
            if !(MIN_PERIOD_MS..=MAX_PERIOD_MS).contains(&v) {
                self.err(
                    p.span(),
                    format!(
                        "telemetry_period_ms {v}{what} must be between {MIN_PERIOD_MS} and {MAX_PERIOD_MS}"
                    ),
                );
            }
        }
        let warn = merged
            .warn_c
            .as_ref()
            .map(|v| *v.get_ref())
            .unwrap_or(DEFAULT_WARN_C);
        let crit = merged
            .critical_c
            .as_ref()
            .map(|v| *v.get_ref())
            .unwrap_or(DEFAULT_CRITICAL_C);
        // NaN compares false: `!(warn < crit)` rejects it too.
        #[allow(clippy::neg_cmp_op_on_partial_ord)]
        let bad = !(warn < crit);
        if bad {
            if let Some(span) = own.warn_c.as_ref().or(own.critical_c.as_ref()).map(|v| v.span()) {
                self.err(
                    span,
                    format!("warn_c {warn} must be below critical_c {crit}{what}"),
                );
            }
        }
    }

    /// The lines, and the names of every line written (even one with a bad path, so that its
    /// seats are not also reported as being on an undefined line).
    fn lines(&mut self, file: &File) -> (Vec<LineSettings>, Vec<String>) {
        let mut seen: BTreeMap<String, Range<usize>> = BTreeMap::new();
        let mut out = Vec::new();
        for l in &file.lines {
            let name = l.name.get_ref().trim().to_string();
            if name.is_empty() {
                self.err(l.name.span(), "a line needs a name");
                continue;
            }
            if let Some(first) = seen.get(&name) {
                let at = self.src.at(first.clone());
                self.err(
                    l.name.span(),
                    format!("line `{name}` is defined twice (first at {at})"),
                );
                continue;
            }
            seen.insert(name.clone(), l.name.span());
            let baud = l.baud.as_ref().map(|b| *b.get_ref()).unwrap_or(DEFAULT_BAUD);
            if baud == 0 {
                if let Some(b) = &l.baud {
                    self.err(b.span(), format!("baud of line `{name}` must be above 0"));
                }
            }
            let path = l.path.get_ref();
            match Endpoint::parse(path, baud) {
                Ok(endpoint) => {
                    if let Endpoint::Tcp(addr) = &endpoint {
                        let port_ok = addr
                            .rsplit_once(':')
                            .and_then(|(_, p)| p.parse::<u16>().ok())
                            .is_some_and(|p| p > 0);
                        if !port_ok {
                            self.err(
                                l.path.span(),
                                format!(
                                    "path \"{path}\" of line `{name}` needs a port from 1 to 65535 (tcp:HOST:PORT)"
                                ),
                            );
                        }
                    }
                    out.push(LineSettings { name, endpoint });
                }
                Err(e) => {
                    let why = match e {
                        crate::source::EndpointError::Malformed(_) => {
                            "is not a device path, unix:PATH or tcp:HOST:PORT".to_string()
                        }
                        other => other.to_string(),
                    };
                    self.err(l.path.span(), format!("path \"{path}\" of line `{name}` {why}"))
                }
            }
        }
        (out, seen.into_keys().collect())
    }

    /// Seats generated by `[hemicycle]`, by id.
    ///
    /// Each row is an arc split into the sectors as equal angular wedges: seat `i` of a row of
    /// `n` belongs to sector `⌊(2i+1)·S / 2n⌋` (the wedge holding its centre). Ids run sector by
    /// sector, then row by row from the innermost, then left to right, so that a sector's seats
    /// (one RS-485 concentrator) have consecutive ids. `position` is the index along the whole
    /// row (1 = leftmost) so the dashboard can place a seat at angle π·(position − ½)/n; the label
    /// `B-04-03` counts within the sector's part of the row.
    fn hemicycle(
        &mut self,
        h: &Spanned<HemicycleSection>,
        file: &File,
        line_names: &[String],
    ) -> BTreeMap<SeatId, Draft> {
        let span = h.span();
        let h = h.get_ref();
        let errors_before = self.errors.len();
        let sectors: Vec<String> = h.sectors.get_ref().iter().map(|s| s.get_ref().clone()).collect();
        if sectors.is_empty() {
            self.err(
                h.sectors.span(),
                "[hemicycle] sectors is empty; name at least one sector",
            );
        }
        let mut seen: BTreeMap<&str, Range<usize>> = BTreeMap::new();
        for s in h.sectors.get_ref() {
            if s.get_ref().trim().is_empty() {
                self.err(s.span(), "a sector needs a name");
            } else if let Some(first) = seen.get(s.get_ref().as_str()) {
                let at = self.src.at(first.clone());
                self.err(
                    s.span(),
                    format!("sector `{}` is listed twice (first at {at})", s.get_ref()),
                );
            } else {
                seen.insert(s.get_ref(), s.span());
            }
        }
        if h.row_seats.get_ref().is_empty() {
            self.err(
                h.row_seats.span(),
                "[hemicycle] row_seats is empty; give the seats of each row",
            );
        }
        for r in h.row_seats.get_ref() {
            if *r.get_ref() == 0 {
                self.err(r.span(), "a row of the hemicycle needs at least one seat");
            }
        }
        let total: i64 = h
            .row_seats
            .get_ref()
            .iter()
            .map(|r| i64::from(*r.get_ref()))
            .sum();
        let first_id = h.first_id.as_ref().map(|f| *f.get_ref()).unwrap_or(1);
        let first_span = h
            .first_id
            .as_ref()
            .map(|f| f.span())
            .unwrap_or_else(|| h.row_seats.span());
        if !(1..=MAX_SEAT_ID).contains(&first_id) {
            self.err(
                first_span,
                format!("first_id {first_id} must be between 1 and {MAX_SEAT_ID}"),
            );
        } else if first_id + total - 1 > MAX_SEAT_ID {
            self.err(
                h.row_seats.span(),
                format!(
                    "the hemicycle has {total} seats from id {first_id}, up to id {}: seat ids end at {MAX_SEAT_ID} (the protocol's 2-byte address)",
                    first_id + total - 1
                ),
            );
        }
        // Sector → line.
        let mut sector_line: BTreeMap<String, String> = BTreeMap::new();
        if let Some(map) = &h.lines {
            for (sector, line) in map.get_ref() {
                if !sectors.contains(sector.get_ref()) {
                    self.err(
                        sector.span(),
                        format!(
                            "sector `{}` in [hemicycle] lines is not one of the sectors ({})",
                            sector.get_ref(),
                            sectors.join(", ")
                        ),
                    );
                }
                if !line_names.contains(line.get_ref()) && !file.lines_dropped {
                    self.err(
                        line.span(),
                        format!(
                            "line `{}` of sector {} is not defined; defined lines: {}",
                            line.get_ref(),
                            sector.get_ref(),
                            list_or_none(line_names)
                        ),
                    );
                }
                sector_line.insert(sector.get_ref().clone(), line.get_ref().clone());
            }
            let missing: Vec<&str> = sectors
                .iter()
                .filter(|s| !sector_line.contains_key(*s))
                .map(|s| s.as_str())
                .collect();
            if !missing.is_empty() {
                self.err(
                    map.span(),
                    format!("[hemicycle] lines gives no line to sector {}", missing.join(", ")),
                );
            }
        }
        let key_policy = self.key_policy(h, file, span.clone());
        if self.errors.len() > errors_before {
            // Generating from a broken description would only add confusing errors.
            self.hemicycle_failed = true;
            return BTreeMap::new();
        }
        let mut cells = Vec::new(); // (sector index, row, index in row)
        for (r, n) in h.row_seats.get_ref().iter().enumerate() {
            let n = usize::from(*n.get_ref());
            for i in 0..n {
                let k = (2 * i + 1) * sectors.len() / (2 * n);
                cells.push((k, r, i));
            }
        }
        cells.sort();
        let mut out = BTreeMap::new();
        let mut in_sector_row: BTreeMap<(usize, usize), u16> = BTreeMap::new();
        for (n, (k, r, i)) in cells.into_iter().enumerate() {
            let id = (first_id + n as i64) as SeatId;
            let nth = in_sector_row.entry((k, r)).or_insert(0);
            *nth += 1;
            let sector = sectors[k].clone();
            let row = (r + 1) as u16;
            out.insert(
                id,
                Draft {
                    id,
                    label: Some(format!("{sector}-{row:02}-{nth:02}")),
                    line: sector_line.get(&sector).cloned(),
                    sector: Some(sector),
                    row: Some(row),
                    position: Some((i + 1) as u16),
                    key: key_policy.as_ref().map(|p| p(id)),
                    board: h.board.as_ref().map(|b| *b.get_ref()),
                    entry: None,
                },
            );
        }
        out
    }

    /// How `[hemicycle]` (and seats added without a key) get their keys.
    fn key_policy(
        &mut self,
        h: &HemicycleSection,
        file: &File,
        span: Range<usize>,
    ) -> Option<Box<dyn Fn(SeatId) -> KeySource>> {
        match (&h.keys, &h.key_dir) {
            (Some(_), Some(dir)) => {
                self.err(
                    dir.span(),
                    "[hemicycle] has both keys = \"demo\" and key_dir; keep one",
                );
                None
            }
            (Some(k), None) => match k.get_ref() {
                KeysPolicy::Demo => Some(Box::new(|_| KeySource::Demo)),
            },
            (None, Some(dir)) => {
                let full = self.base.join(dir.get_ref());
                if self.read_files && !full.is_dir() {
                    self.err(
                        dir.span(),
                        format!(
                            "key_dir {} does not exist or is not a folder (looked for {})",
                            dir.get_ref().display(),
                            full.display()
                        ),
                    );
                    return None;
                }
                Some(Box::new(move |id| KeySource::Dir(full.join(key_file_name(id)))))
            }
            (None, None) => {
                let bad = &file.hemicycle_bad_keys;
                if bad.iter().any(|k| k == "keys" || k == "key_dir") {
                    return None; // its bad value was reported
                }
                self.err(
                    span,
                    "[hemicycle] needs keys: key_dir = \"keys/\" (one file seat-0042.key per seat) or, for demos only, keys = \"demo\"",
                );
                None
            }
        }
    }

    fn explicit_seats(&mut self, file: &File, line_names: &[String], drafts: &mut BTreeMap<SeatId, Draft>) {
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

    /// Two seats cannot sit in the same place.
    fn check_places(&mut self, drafts: &BTreeMap<SeatId, Draft>, file: &File) {
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

    fn finish_seats(
        &mut self,
        file: &File,
        boards: &BTreeMap<Board, Thresholds>,
        drafts: BTreeMap<SeatId, Draft>,
    ) -> Vec<SeatSettings> {
        let mut missing_in_dir: Vec<(SeatId, PathBuf)> = Vec::new();
        let mut seats = Vec::with_capacity(drafts.len());
        let mut demo = 0usize;
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
            };
            let key = match &d.key {
                Some(KeySource::Inline(k)) => Some(k.clone()),
                Some(KeySource::Demo) => {
                    demo += 1;
                    Some(crate::sim::demo_key(d.id))
                }
                Some(KeySource::File(f)) => self.key_file(d.id, f),
                Some(KeySource::Dir(path)) => {
                    if self.read_files {
                        match read_key(path) {
                            Ok(k) => Some(k),
                            Err(KeyFileError::Missing) => {
                                missing_in_dir.push((d.id, path.clone()));
                                None
                            }
                            Err(e) => {
                                let span = dir_span(file);
                                self.err(
                                    span,
                                    format!("key file {} for seat {}: {e}", path.display(), d.id),
                                );
                                None
                            }
                        }
                    } else {
                        None
                    }
                }
                None => None,
            };
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
                warn_c: t.warn_c.map(|v| v.into_inner()).unwrap_or(DEFAULT_WARN_C),
                critical_c: t.critical_c.map(|v| v.into_inner()).unwrap_or(DEFAULT_CRITICAL_C),
                horizon_s: t
                    .horizon
                    .map(|v| v.into_inner().0)
                    .unwrap_or(DEFAULT_HORIZON)
                    .as_secs(),
                period_ms: t
                    .telemetry_period_ms
                    .map(|v| v.into_inner())
                    .unwrap_or(DEFAULT_PERIOD_MS)
                    .clamp(MIN_PERIOD_MS, MAX_PERIOD_MS) as u64,
            });
        }
        if !missing_in_dir.is_empty() {
            let shown: Vec<String> = missing_in_dir
                .iter()
                .take(10)
                .map(|(id, _)| id.to_string())
                .collect();
            let more = missing_in_dir.len().saturating_sub(10);
            let example = missing_in_dir[0].1.display().to_string();
            self.err(
                dir_span(file),
                format!(
                    "key_dir has no key file for {} seat(s): {}{} (expected e.g. {example})",
                    missing_in_dir.len(),
                    shown.join(", "),
                    if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    }
                ),
            );
        }
        if demo > 0 && self.read_files && self.warn_demo_keys {
            tracing::warn!(
                seats = demo,
                "keys = \"demo\": these seat keys are derived from a PUBLIC secret; anyone can forge their frames. For demonstrations only, never in a real hemicycle"
            );
        }
        seats
    }

    fn key_file(&mut self, id: SeatId, f: &Spanned<PathBuf>) -> Option<SeatKey> {
        if !self.read_files {
            return None;
        }
        let written = f.get_ref();
        let full = self.base.join(written);
        match read_key(&full) {
            Ok(k) => Some(k),
            Err(KeyFileError::Missing) => {
                self.err(
                    f.span(),
                    format!(
                        "key_file {} for seat {id} does not exist (looked for {})",
                        written.display(),
                        full.display()
                    ),
                );
                None
            }
            Err(e) => {
                self.err(
                    f.span(),
                    format!("key_file {} for seat {id}: {e}", written.display()),
                );
                None
            }
        }
    }

    fn sinks(&mut self, file: &File) -> Vec<Sink> {
        let mut out = Vec::new();
        for s in &file.sinks {
            let kind = *s.kind.get_ref();
            // With its article, for sentences: "a webhook sink", "an exec sink".
            let name = match kind {
                SinkKind::Webhook => "a webhook",
                SinkKind::Exec => "an exec",
                SinkKind::Alertmanager => "an alertmanager",
            };
            let timeout = s
                .timeout
                .as_ref()
                .map(|t| t.get_ref().0)
                .unwrap_or(DEFAULT_SINK_TIMEOUT);
            if let Some(t) = &s.timeout {
                if timeout.is_zero() || timeout > Duration::from_secs(300) {
                    self.err(
                        t.span(),
                        format!("timeout of {name} sink must be between 1ms and 5m"),
                    );
                }
            }
            let not_for = |this: &mut Self, key: &str, span: Option<Range<usize>>| {
                if let Some(span) = span {
                    this.err(span, format!("`{key}` does not apply to {name} sink"));
                }
            };
            match kind {
                SinkKind::Webhook | SinkKind::Alertmanager => {
                    not_for(self, "command", s.command.as_ref().map(|c| c.span()));
                    not_for(self, "args", s.args.as_ref().map(|c| c.span()));
                    let Some(url) = &s.url else {
                        if s.bad_keys.iter().any(|k| k == "url") {
                            continue;
                        }
                        self.err(s.kind.span(), format!("{name} sink needs url = \"http://...\""));
                        continue;
                    };
                    match reqwest::Url::parse(url.get_ref()) {
                        Ok(u) if u.scheme() == "http" || u.scheme() == "https" => {
                            out.push(match kind {
                                SinkKind::Webhook => {
                                    Sink::Webhook(WebhookSink::new(url.get_ref().clone(), timeout))
                                }
                                _ => Sink::Alertmanager(AlertmanagerSink::new(url.get_ref(), timeout)),
                            });
                        }
                        Ok(u) => self.err(
                            url.span(),
                            format!(
                                "url of {name} sink must be http:// or https://, not {}://",
                                u.scheme()
                            ),
                        ),
                        Err(e) => self.err(
                            url.span(),
                            format!("url \"{}\" of {name} sink is not a URL: {e}", url.get_ref()),
                        ),
                    }
                }
                SinkKind::Exec => {
                    not_for(self, "url", s.url.as_ref().map(|c| c.span()));
                    let Some(command) = &s.command else {
                        if s.bad_keys.iter().any(|k| k == "command") {
                            continue;
                        }
                        self.err(s.kind.span(), "an exec sink needs command = \"/path/to/program\"");
                        continue;
                    };
                    if command.get_ref().trim().is_empty() {
                        self.err(command.span(), "command of an exec sink is empty");
                        continue;
                    }
                    if let Some(args) = &s.args {
                        if !args.get_ref().is_empty() {
                            // ExecSink runs the program without arguments (it gets the alert in
                            // its environment); accepting args silently would drop them.
                            self.err(
                                args.span(),
                                "the exec sink does not pass arguments yet: point command at a script that adds them",
                            );
                            continue;
                        }
                    }
                    out.push(Sink::Exec(ExecSink::new(command.get_ref().clone(), timeout)));
                }
            }
        }
        out
    }

    fn daemon(&mut self, file: &File) -> (std::net::SocketAddr, Option<String>) {
        let d = &file.daemon;
        let bind = d
            .http_bind
            .as_ref()
            .map(|b| b.get_ref().0)
            .unwrap_or_else(|| std::net::SocketAddr::from(([127, 0, 0, 1], 7577)));
        let token = match (&d.api_token, &d.api_token_env) {
            (Some(_), Some(env)) => {
                self.err(env.span(), "set api_token or api_token_env, not both");
                None
            }
            (Some(t), None) => {
                if t.get_ref().trim().is_empty() {
                    self.err(
                        t.span(),
                        "api_token is empty; remove it or give a long random value",
                    );
                    None
                } else {
                    Some(t.get_ref().clone())
                }
            }
            (None, Some(env)) => {
                let name = env.get_ref();
                if name.is_empty() || name.contains('=') || name.contains('\0') {
                    self.err(
                        env.span(),
                        format!("api_token_env \"{name}\" is not an environment variable name"),
                    );
                    None
                } else if self.read_files {
                    match (self.env)(name) {
                        Ok(v) if !v.trim().is_empty() => Some(v),
                        Ok(_) => {
                            self.err(
                                env.span(),
                                format!("api_token_env names {name}, but that environment variable is empty"),
                            );
                            None
                        }
                        Err(std::env::VarError::NotPresent) => {
                            self.err(
                                env.span(),
                                format!(
                                    "api_token_env names {name}, but that environment variable is not set"
                                ),
                            );
                            None
                        }
                        Err(std::env::VarError::NotUnicode(_)) => {
                            self.err(
                                env.span(),
                                format!("environment variable {name} (api_token_env) is not valid UTF-8"),
                            );
                            None
                        }
                    }
                } else {
                    None
                }
            }
            (None, None) => None,
        };
        (bind, token)
    }

    fn storage(&mut self, file: &File) -> (PathBuf, Duration, Duration, Duration) {
        let s = &file.storage;
        let data_dir = data_dir(file, self.base, self.data_dir_override);
        let database = match &s.path {
            Some(p) => self.base.join(p.get_ref()),
            None => data_dir.join("hemiwatch.sqlite"),
        };
        let get = |v: &Option<Spanned<super::schema::HumanDuration>>, d| {
            v.as_ref().map(|v| v.get_ref().0).unwrap_or(d)
        };
        let raw = get(&s.raw_retention, Duration::from_secs(24 * 3600));
        let rollup = get(&s.rollup_retention, Duration::from_secs(90 * 24 * 3600));
        let flush = get(&s.flush_interval, Duration::from_secs(1));
        if let Some(v) = &s.raw_retention {
            if raw < Duration::from_secs(60) {
                self.err(
                    v.span(),
                    "raw_retention must be at least 1m (rollups are per minute)",
                );
            }
        }
        if let Some(v) = s.rollup_retention.as_ref().or(s.raw_retention.as_ref()) {
            if rollup < raw {
                self.err(
                    v.span(),
                    format!(
                        "rollup_retention {} must not be shorter than raw_retention {}: rollups keep what raw samples no longer do",
                        humantime::format_duration(rollup),
                        humantime::format_duration(raw)
                    ),
                );
            }
        }
        if let Some(v) = &s.flush_interval {
            if flush < Duration::from_millis(10) || flush > Duration::from_secs(60) {
                self.err(
                    v.span(),
                    "flush_interval must be between 10ms and 60s: it is the window of samples a crash can lose",
                );
            }
        }
        (database, raw, rollup, flush)
    }
}

/// Where the data lives: the override (the demo's folder), `[daemon] data_dir` relative to the
/// config's folder, or the config's folder itself.
pub(crate) fn data_dir(file: &File, base: &Path, over: Option<&Path>) -> PathBuf {
    if let Some(o) = over {
        return o.to_path_buf();
    }
    match &file.daemon.data_dir {
        Some(d) => base.join(d.get_ref()),
        None => base.to_path_buf(),
    }
}

/// The span to blame for key_dir problems.
fn dir_span(file: &File) -> Range<usize> {
    file.hemicycle
        .as_ref()
        .map(|h| {
            h.get_ref()
                .key_dir
                .as_ref()
                .map(|d| d.span())
                .unwrap_or_else(|| h.span())
        })
        .unwrap_or(0..0)
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

fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// The file name of a seat's key in a `key_dir`: `seat-0042.key`, four digits so that a folder
/// listing sorts by seat.
pub fn key_file_name(id: SeatId) -> String {
    format!("seat-{id:04}.key")
}

/// Why a key file is unusable.
#[derive(Debug, thiserror::Error)]
enum KeyFileError {
    #[error("does not exist")]
    Missing,
    #[error("cannot be read: {0}")]
    Io(std::io::Error),
    #[error("holds {0} bytes; expected 32 hex digits or 16 raw bytes")]
    Format(usize),
}

/// Reads a key file: 32 hex digits (whitespace around them ignored) or exactly 16 raw bytes.
fn read_key(path: &Path) -> Result<SeatKey, KeyFileError> {
    let bytes = std::fs::read(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => KeyFileError::Missing,
        _ => KeyFileError::Io(e),
    })?;
    if let Some(k) = std::str::from_utf8(&bytes)
        .ok()
        .and_then(|t| super::schema::parse_hex_key(t).ok())
    {
        warn_if_readable_by_others(path);
        return Ok(k);
    }
    if let Ok(raw) = <[u8; 16]>::try_from(bytes.as_slice()) {
        warn_if_readable_by_others(path);
        return Ok(SeatKey(raw));
    }
    Err(KeyFileError::Format(bytes.len()))
}

/// A seat key readable by other users can be used to forge that seat's frames: say so.
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                "key file is readable by other users; chmod 600 it"
            );
        }
    }
}
