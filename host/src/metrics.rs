//! Prometheus metrics (OpenMetrics text via `prometheus-client`). Two kinds:
//!
//! - handles the daemon observes into as things happen — detector and storage timings, SSE
//!   clients — held in [`Metrics`] and shared as `Arc<Metrics>`;
//! - values read at scrape time from the live model and from counters other parts already keep
//!   (lines, storage writer, outbox) — seat temperatures, seats per status, alerts firing, frames
//!   per line, deliveries — so they can never drift from what the dashboard shows, and cost
//!   nothing between scrapes.
//!
//! Cardinality: per-seat series are the temperature and two link counters (3 × 577); everything
//! else is per line, per status or per alert kind.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

use crate::alert::{AlertState, Kind};
use crate::model::{Hemicycle, SeatStatus};
use crate::sink::outbox::OutboxCounters;
use crate::source::{LineCountersSnapshot, LineHandle};
use crate::storage::StorageCounters;

/// Content type of [`Metrics::render`]'s output, served to scrapers that ask for OpenMetrics
/// (Prometheus does, in its `Accept` header).
pub const OPENMETRICS_CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
/// Content type of [`to_text_format`]'s output, the default for everyone else (curl, promtool).
pub const TEXT_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Converts OpenMetrics text (as `prometheus-client` writes it) to the Prometheus text format
/// 0.0.4: counter families are named with their `_total` suffix in `# HELP`/`# TYPE` (OpenMetrics
/// names the family without it), `# UNIT` and `# EOF` are dropped. Tools that only read 0.0.4 —
/// `promtool check metrics`, older scrapers — otherwise see each counter as an untyped metric
/// without help.
pub fn to_text_format(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line.starts_with("# UNIT ") || line == "# EOF" {
            continue;
        }
        let meta = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|p| Some((p, line.strip_prefix(p)?)));
        match meta {
            Some((prefix, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                out.push_str(prefix);
                out.push_str(name);
                if counters.contains(name) {
                    out.push_str("_total");
                }
                out.push(' ');
                out.push_str(tail);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// Metric handles the daemon observes into. Cloning a handle shares the series.
#[derive(Debug, Clone)]
pub struct Metrics {
    /// Time to run the detectors on one sample (observe seconds per call).
    pub detector_seconds: Histogram,
    /// Time of one storage commit (a batch of samples, events, alert changes).
    pub storage_commit_seconds: Histogram,
    /// Samples written per storage commit (batch size: shows whether batching keeps up).
    pub storage_batch_rows: Histogram,
    /// Dashboard/API clients currently connected to the SSE stream.
    pub sse_clients: Gauge,
    /// Times the daemon's own state task was not scheduled for longer than a silence deadline
    /// allows (an overloaded or paused host); silence checks were held back each time.
    pub stalls: prometheus_client::metrics::counter::Counter,
    /// Steps of the host's wall clock against the monotonic clock detection runs on.
    pub clock_steps: prometheus_client::metrics::counter::Counter,
    /// How late each state-task tick fired (the time the task could not run when it should).
    pub tick_lag_seconds: Histogram,
    /// The last tick's lateness, µs (for `/api/status`).
    pub last_tick_lag_micros: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Unix ms of the last tick (a stuck state task shows as its age growing).
    pub last_tick_ms: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Fresh handles, all zero. Buckets: detector 1 µs … ~0.26 s (×4), storage 100 µs … ~5.7 s
    /// (×2.7), batch 1 … 4096 rows (×4).
    pub fn new() -> Self {
        Self {
            detector_seconds: Histogram::new(exponential_buckets(1e-6, 4.0, 10)),
            storage_commit_seconds: Histogram::new(exponential_buckets(1e-4, 2.7, 12)),
            storage_batch_rows: Histogram::new(exponential_buckets(1.0, 4.0, 7)),
            sse_clients: Gauge::default(),
            stalls: Default::default(),
            clock_steps: Default::default(),
            tick_lag_seconds: Histogram::new(exponential_buckets(1e-4, 4.0, 10)),
            last_tick_lag_micros: Default::default(),
            last_tick_ms: Default::default(),
        }
    }

    /// A state-task tick fired `lag` after it was due, at unix ms `now`.
    pub fn tick(&self, lag: std::time::Duration, now: u64) {
        self.tick_lag_seconds.observe(lag.as_secs_f64());
        self.last_tick_lag_micros
            .store(lag.as_micros() as u64, Ordering::Relaxed);
        self.last_tick_ms.store(now, Ordering::Relaxed);
    }

    /// The whole exposition: the handles plus the scrape-time view of `model` and `sources`.
    pub fn render(&self, model: &Hemicycle, sources: &ScrapeSources<'_>) -> Result<String, std::fmt::Error> {
        let mut registry = Registry::with_prefix("hemiwatch");
        registry.register_with_unit(
            "detector",
            "Time to run the detectors on one sample",
            Unit::Seconds,
            self.detector_seconds.clone(),
        );
        registry.register_with_unit(
            "storage_commit",
            "Time of one SQLite commit of buffered rows",
            Unit::Seconds,
            self.storage_commit_seconds.clone(),
        );
        registry.register(
            "storage_batch_rows",
            "Rows written per SQLite commit",
            self.storage_batch_rows.clone(),
        );
        registry.register(
            "sse_clients",
            "Clients connected to the live event stream",
            self.sse_clients.clone(),
        );
        registry.register(
            "daemon_stalls",
            "Times the daemon itself was not scheduled for over a second (silence checks held back)",
            self.stalls.clone(),
        );
        registry.register(
            "clock_steps",
            "Steps of the host's wall clock (detection runs on a monotonic clock and ignores them)",
            self.clock_steps.clone(),
        );
        registry.register_with_unit(
            "state_task_tick_lag",
            "How late the state task's ticks fired",
            Unit::Seconds,
            self.tick_lag_seconds.clone(),
        );
        let mut view = LiveView::new(model, sources);
        let last = self.last_tick_ms.load(Ordering::Relaxed);
        view.tick_age_s = (last > 0).then(|| crate::unix_ms().saturating_sub(last) as f64 / 1e3);
        registry.register_collector(Box::new(view));
        let mut out = String::with_capacity(64 * 1024);
        prometheus_client::encoding::text::encode(&mut out, &registry)?;
        Ok(out)
    }
}

/// Counters owned elsewhere that a scrape reads (atomics: reading them never blocks their owner).
#[derive(Debug, Clone, Copy, Default)]
pub struct ScrapeSources<'a> {
    /// Serial lines.
    pub lines: &'a [LineHandle],
    /// The storage writer's counters, when the daemon has storage.
    pub storage: Option<&'a StorageCounters>,
    /// The outbox worker's delivery counters, when alert sinks are configured.
    pub outbox: Option<&'a OutboxCounters>,
}

/// A consistent copy of what the scrape reports from the model and the sources.
#[derive(Debug)]
struct LiveView {
    seats: Vec<SeatRow>,
    per_status: BTreeMap<SeatStatus, usize>,
    /// Alerts firing per kind; every kind is present (as 0 when none fire), so a dashboard
    /// panel or an alert rule on them does not see a missing series as "no data". Each series
    /// carries its kind's severity too, so a rule can say `severity="emergency"` without
    /// knowing the kinds.
    firing: BTreeMap<&'static str, (Kind, i64)>,
    rejected: [(&'static str, u64); 3],
    reboots: u64,
    lines: Vec<LineRow>,
    /// name, help, value (counters).
    storage: Vec<(&'static str, &'static str, u64)>,
    /// Total time spent in SQLite commits, seconds (with `storage_commits_total`: mean commit).
    storage_commit_time_s: Option<f64>,
    /// name, help, value (gauges of the storage writer).
    storage_gauges: Vec<(&'static str, &'static str, i64)>,
    /// Outbox delivered, failed.
    outbox: Option<(u64, u64)>,
    /// The daemon process itself (`/proc/self`), when readable.
    process: Option<ProcessStats>,
    /// Seconds since the state task last ticked.
    tick_age_s: Option<f64>,
}

/// The daemon process's own resources, from `/proc/self` (Linux).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct ProcessStats {
    /// Resident memory, bytes.
    pub rss_bytes: u64,
    /// User + system CPU time, seconds.
    pub cpu_seconds: f64,
    /// Open file descriptors.
    pub open_fds: u64,
}

impl ProcessStats {
    /// Reads `/proc/self`; `None` where it is not available (not Linux).
    pub fn read() -> Option<Self> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let rss_kb: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))?
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .ok()?;
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // Fields after the command name (which may hold spaces and parentheses): state is the
        // first, utime and stime the 12th and 13th, in clock ticks (USER_HZ, 100 on Linux).
        let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
        let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
        // The listing's own descriptor is not counted.
        let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count().saturating_sub(1) as u64;
        Some(Self {
            rss_bytes: rss_kb * 1024,
            cpu_seconds: ticks as f64 / 100.0,
            open_fds,
        })
    }
}

#[derive(Debug)]
struct SeatRow {
    seat: String,
    sector: String,
    temp_c: Option<f64>,
    frames: u64,
    lost: u64,
}

#[derive(Debug)]
struct LineRow {
    line: String,
    counters: LineCountersSnapshot,
}

impl LiveView {
    fn new(model: &Hemicycle, sources: &ScrapeSources<'_>) -> Self {
        // Keyed by name: the series come out in the order they always had.
        let mut firing: BTreeMap<&'static str, (Kind, i64)> =
            Kind::ALL.iter().map(|k| (k.name(), (*k, 0))).collect();
        for a in model.alerts.values().filter(|a| a.state == AlertState::Firing) {
            firing.entry(a.kind.name()).or_insert((a.kind, 0)).1 += 1;
        }
        let (mut bad_mac, mut replays, mut other, mut reboots) = (0, 0, 0, 0);
        for s in model.seats.values() {
            bad_mac += s.counters.bad_mac;
            replays += s.counters.replays;
            other += s.counters.rejected;
            reboots += s.counters.reboots;
        }
        Self {
            seats: model
                .seats
                .values()
                .map(|s| SeatRow {
                    seat: s.place.id.to_string(),
                    sector: s.place.sector.clone(),
                    temp_c: s.hottest_c,
                    frames: s.counters.frames,
                    lost: s.counters.lost,
                })
                .collect(),
            per_status: model.counts(),
            firing,
            rejected: [("bad_mac", bad_mac), ("replay", replays), ("other", other)],
            reboots,
            storage: sources
                .storage
                .map(|c| {
                    let v = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
                    vec![
                        ("storage_samples", "Samples committed to SQLite", v(&c.samples)),
                        (
                            "storage_samples_dropped",
                            "Samples dropped because the storage writer fell behind",
                            v(&c.dropped),
                        ),
                        ("storage_commits", "SQLite transactions committed", v(&c.commits)),
                        ("storage_errors", "SQLite commits that failed", v(&c.errors)),
                        (
                            "storage_kept_dropped",
                            "Alert changes and events dropped because too many waited for a failing storage",
                            v(&c.kept_dropped),
                        ),
                        (
                            "outbox_held_dropped",
                            "Notifications dropped from the in-memory queue used while storage fails",
                            v(&c.held_dropped),
                        ),
                    ]
                })
                .unwrap_or_default(),
            storage_gauges: sources
                .storage
                .map(|c| {
                    let v = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed) as i64;
                    vec![
                        (
                            "storage_failing",
                            "1 while SQLite commits fail (disk full, I/O error)",
                            i64::from(c.failing().is_some()),
                        ),
                        (
                            "storage_kept_records",
                            "Alert changes and events kept in memory until storage writes succeed",
                            v(&c.kept),
                        ),
                        (
                            "outbox_held",
                            "Notifications held in memory because the outbox cannot be written",
                            v(&c.held),
                        ),
                        (
                            "storage_queue",
                            "Records waiting for the storage writer",
                            v(&c.queued),
                        ),
                    ]
                })
                .unwrap_or_default(),
            storage_commit_time_s: sources
                .storage
                .map(|c| c.commit_micros.load(Ordering::Relaxed) as f64 / 1e6),
            process: ProcessStats::read(),
            tick_age_s: None,
            outbox: sources.outbox.map(|o| {
                (
                    o.delivered.load(Ordering::Relaxed),
                    o.failed.load(Ordering::Relaxed),
                )
            }),
            lines: sources
                .lines
                .iter()
                .map(|l| LineRow {
                    line: l.name.clone(),
                    counters: l.counters.snapshot(),
                })
                .collect(),
        }
    }
}

/// Encodes one family whose samples come from an iterator of (labels, metric).
fn family<L, M>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    rows: impl IntoIterator<Item = (L, M)>,
) -> Result<(), std::fmt::Error>
where
    L: prometheus_client::encoding::EncodeLabelSet,
    M: EncodeMetric,
{
    let mut rows = rows.into_iter().peekable();
    // The type comes from the first sample; a family without samples is left out entirely.
    let Some(metric_type) = rows.peek().map(|(_, m)| m.metric_type()) else {
        return Ok(());
    };
    let mut metric_encoder = encoder.encode_descriptor(name, help, unit, metric_type)?;
    for (labels, metric) in rows {
        metric.encode(metric_encoder.encode_family(&labels)?)?;
    }
    Ok(())
}

impl Collector for LiveView {
    fn encode(&self, mut e: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        family(
            &mut e,
            "seat_temperature",
            "Hottest channel of the seat's last verified sample",
            Some(&Unit::Celsius),
            self.seats.iter().filter_map(|s| {
                Some((
                    [("seat", s.seat.as_str()), ("sector", s.sector.as_str())],
                    ConstGauge::new(s.temp_c?),
                ))
            }),
        )?;
        family(
            &mut e,
            "seat_frames",
            "Verified frames accepted from the seat",
            None,
            self.seats
                .iter()
                .map(|s| ([("seat", s.seat.as_str())], ConstCounter::new(s.frames))),
        )?;
        family(
            &mut e,
            "seat_frames_lost",
            "Frames of the seat lost on the way (gaps in its counter)",
            None,
            self.seats
                .iter()
                .map(|s| ([("seat", s.seat.as_str())], ConstCounter::new(s.lost))),
        )?;
        family(
            &mut e,
            "frames_rejected",
            "Frames refused after framing, summed over seats, by reason",
            None,
            self.rejected
                .iter()
                .map(|(reason, n)| ([("reason", *reason)], ConstCounter::new(*n))),
        )?;
        let reboots = ConstCounter::new(self.reboots);
        reboots.encode(e.encode_descriptor(
            "seat_reboots",
            "Seat reboots seen (new boot identity), summed over seats",
            None,
            reboots.metric_type(),
        )?)?;
        family(
            &mut e,
            "seats",
            "Seats per status",
            None,
            self.per_status
                .iter()
                .map(|(status, n)| ([("status", status.name())], ConstGauge::new(*n as i64))),
        )?;
        family(
            &mut e,
            "alerts_firing",
            "Alerts firing, by kind (with its severity)",
            None,
            self.firing.iter().map(|(name, (kind, n))| {
                (
                    [("kind", *name), ("severity", kind.severity().name())],
                    ConstGauge::new(*n),
                )
            }),
        )?;
        let line = |l: &LineRow| [("line", l.line.clone())];
        family(
            &mut e,
            "line_read",
            "Bytes read from the line",
            Some(&Unit::Bytes),
            self.lines
                .iter()
                .map(|l| (line(l), ConstCounter::new(l.counters.bytes))),
        )?;
        family(
            &mut e,
            "line_frames",
            "Frames cut from the line's byte stream (before verification)",
            None,
            self.lines
                .iter()
                .map(|l| (line(l), ConstCounter::new(l.counters.frames))),
        )?;
        family(
            &mut e,
            "line_framing_errors",
            "Framing errors on the line (bad COBS, bad CRC, too long)",
            None,
            self.lines
                .iter()
                .map(|l| (line(l), ConstCounter::new(l.counters.framing_errors))),
        )?;
        family(
            &mut e,
            "line_opens",
            "Times the line was opened (reconnects + 1)",
            None,
            self.lines
                .iter()
                .map(|l| (line(l), ConstCounter::new(l.counters.opens))),
        )?;
        family(
            &mut e,
            "line_up",
            "1 while the line is open",
            None,
            self.lines
                .iter()
                .map(|l| (line(l), ConstGauge::new(i64::from(l.counters.up)))),
        )?;
        for (name, help, value) in &self.storage {
            let c = ConstCounter::new(*value);
            c.encode(e.encode_descriptor(name, help, None, c.metric_type())?)?;
        }
        for (name, help, value) in &self.storage_gauges {
            let g = ConstGauge::new(*value);
            g.encode(e.encode_descriptor(name, help, None, g.metric_type())?)?;
        }
        if let Some(p) = self.process {
            let g = ConstGauge::new(p.rss_bytes as i64);
            g.encode(e.encode_descriptor(
                "process_resident_memory",
                "Resident memory of the daemon process",
                Some(&Unit::Bytes),
                g.metric_type(),
            )?)?;
            let c = ConstCounter::new(p.cpu_seconds);
            c.encode(e.encode_descriptor(
                "process_cpu",
                "CPU time (user + system) the daemon process used",
                Some(&Unit::Seconds),
                c.metric_type(),
            )?)?;
            let g = ConstGauge::new(p.open_fds as i64);
            g.encode(e.encode_descriptor(
                "process_open_fds",
                "File descriptors the daemon process has open",
                None,
                g.metric_type(),
            )?)?;
        }
        if let Some(age) = self.tick_age_s {
            let g = ConstGauge::new(age);
            g.encode(e.encode_descriptor(
                "state_task_last_tick_age",
                "Time since the state task last ticked (grows without bound if it is stuck)",
                Some(&Unit::Seconds),
                g.metric_type(),
            )?)?;
        }
        if let Some(seconds) = self.storage_commit_time_s {
            let c = ConstCounter::new(seconds);
            c.encode(e.encode_descriptor(
                "storage_commit_time",
                "Time spent in SQLite commits",
                Some(&Unit::Seconds),
                c.metric_type(),
            )?)?;
        }
        if let Some((delivered, failed)) = self.outbox {
            family(
                &mut e,
                "outbox_deliveries",
                "Alert notification delivery attempts, by result (failed ones are retried)",
                None,
                [("delivered", delivered), ("failed", failed)]
                    .map(|(result, n)| ([("result", result)], ConstCounter::new(n))),
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::AlertView;

    #[test]
    fn alerts_firing_carry_their_severity_and_seats_their_tier() {
        let mut model = Hemicycle::default();
        model.alerts.insert(
            1,
            AlertView {
                id: 1,
                kind: Kind::OverheatEmergency,
                seat: Some(3),
                line: None,
                sector: None,
                state: AlertState::Firing,
                started_at_ms: 0,
                updated_at_ms: 0,
                predicted_critical_at_ms: None,
                summary: String::new(),
                ack: None,
                silenced: false,
            },
        );
        let text = Metrics::new().render(&model, &ScrapeSources::default()).unwrap();
        for want in [
            r#"hemiwatch_alerts_firing{kind="overheat_emergency",severity="emergency"} 1"#,
            r#"hemiwatch_alerts_firing{kind="overheat",severity="critical"} 0"#,
            r#"hemiwatch_alerts_firing{kind="temperature_warn",severity="warning"} 0"#,
            r#"hemiwatch_seats{status="overheat_emergency"} 0"#,
        ] {
            assert!(text.contains(want), "{want} missing from:\n{text}");
        }
    }
}
