//! Daemon settings for tests: a few seats on a few lines with everything else at a test-friendly
//! default (HTTP on an ephemeral loopback port, the database in the test's temp dir, no sinks), so
//! a test states only what it is about.

use std::path::Path;
use std::time::Duration;

use hemiwatch_protocol::{SeatId, SeatKey};

use crate::config::{LineSettings, SeatSettings, Settings};
use crate::detect::tier::TierRules;
use crate::model::SeatPlace;
use crate::sim::SimSeat;
use crate::sink::Sink;
use crate::source::Endpoint;

use super::seat_key;

/// A seat placed simply: label `S{id}`, row 1, position `id`, in `sector`, on `line` (`None`:
/// not tied to a line). Tests that care about the hemicycle's shape build their own places.
pub fn place(id: SeatId, sector: &str, line: Option<&str>) -> SeatPlace {
    SeatPlace {
        id,
        label: format!("S{id}"),
        sector: sector.into(),
        row: 1,
        position: id,
        line: line.map(str::to_owned),
    }
}

/// Builds [`Settings`]; the thresholds and period apply to every seat added with
/// [`SettingsBuilder::seat`]. Lines served by simulated seats on ptys are declared with
/// [`SettingsBuilder::pty_line`] and started by [`super::TestDaemon::start`], which knows where
/// the ptys go.
pub struct SettingsBuilder {
    base: Settings,
    seats: Vec<(SeatPlace, Option<SeatKey>)>,
    tiers: TierRules,
    horizon_s: u64,
    period_ms: u64,
    pub(super) pty_lines: Vec<(String, Vec<SimSeat>)>,
}

impl Default for SettingsBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl SettingsBuilder {
    /// No lines, no seats; the default tiers (warn 70 °C, critical 85 °C, emergency 95 °C, each
    /// clearing a degree under, 5 s dwell, 30 s clear dwell), 300 s horizon, 500 ms period; HTTP on
    /// `127.0.0.1:0` without a token; raw samples kept a day, rollups 90 days; flush every second.
    pub fn new() -> Self {
        Self::from_settings(Settings {
            lines: Vec::new(),
            seats: Vec::new(),
            http_bind: "127.0.0.1:0".parse().unwrap_or_else(|_| unreachable!()),
            api_token: None,
            database: "hemiwatch.sqlite".into(),
            raw_retention: Duration::from_secs(86_400),
            rollup_retention: Duration::from_secs(90 * 86_400),
            flush_interval: Duration::from_secs(1),
            sinks: Vec::new(),
        })
    }

    /// Starts from resolved settings (the embedded default hemicycle, say): their seats and
    /// lines are kept; HTTP still moves to `127.0.0.1:0` and the database to the test's dir.
    pub fn from_settings(mut settings: Settings) -> Self {
        settings.http_bind = "127.0.0.1:0".parse().unwrap_or_else(|_| unreachable!());
        Self {
            base: settings,
            seats: Vec::new(),
            tiers: TierRules::default(),
            horizon_s: 300,
            period_ms: 500,
            pty_lines: Vec::new(),
        }
    }

    /// Adds a seat with its test key ([`seat_key`]).
    pub fn seat(mut self, place: SeatPlace) -> Self {
        let key = seat_key(place.id);
        self.seats.push((place, Some(key)));
        self
    }

    /// Adds seats with their test keys.
    pub fn seats(self, places: impl IntoIterator<Item = SeatPlace>) -> Self {
        places.into_iter().fold(self, Self::seat)
    }

    /// Adds a line the daemon reads at `endpoint` (a `tcp:` concentrator, `/dev/null`...).
    pub fn line(mut self, name: &str, endpoint: Endpoint) -> Self {
        self.base.lines.push(LineSettings::new(name, endpoint));
        self
    }

    /// A line served by `seats` simulated on a pty in the test's dir (replacing the endpoint of
    /// a line of that name already configured).
    pub fn pty_line(mut self, name: &str, seats: Vec<SimSeat>) -> Self {
        self.pty_lines.push((name.into(), seats));
        self
    }

    /// Warn level of the seats added here, °C (its clear level follows it, as a config that
    /// leaves `warn_clear_c` out has it).
    pub fn warn_c(mut self, c: f64) -> Self {
        self.tiers = TierRules::around(c, self.tiers.critical.trip_c);
        self
    }

    /// Every tier's levels and dwells of the seats added here.
    pub fn tiers(mut self, tiers: TierRules) -> Self {
        self.tiers = tiers;
        self
    }

    /// Expected telemetry period of the seats added here.
    pub fn period_ms(mut self, ms: u64) -> Self {
        self.period_ms = ms;
        self
    }

    /// The API token writes need.
    pub fn token(mut self, token: &str) -> Self {
        self.base.api_token = Some(token.into());
        self
    }

    /// How often storage commits.
    pub fn flush_interval(mut self, every: Duration) -> Self {
        self.base.flush_interval = every;
        self
    }

    /// Adds an alert sink named after its kind (`webhook`, then `webhook-2`…, as distinct
    /// `[[sink]] name`s would).
    pub fn sink(self, sink: Sink) -> Self {
        let kind = sink.name();
        let name = (1..)
            .map(|i| {
                if i == 1 {
                    kind.to_owned()
                } else {
                    format!("{kind}-{i}")
                }
            })
            .find(|n| !self.base.sinks.iter().any(|s| &s.name == n))
            .unwrap_or_else(|| kind.to_owned());
        self.named_sink(&name, sink)
    }

    /// Adds an alert sink under `name` (its identity in the outbox).
    pub fn named_sink(mut self, name: &str, sink: Sink) -> Self {
        self.base.sinks.push(crate::sink::NamedSink::new(name, sink));
        self
    }

    /// The settings, with the database in `dir`. The pty lines are not started here: a line
    /// declared only with [`SettingsBuilder::pty_line`] is missing until the daemon starts them.
    pub fn build(&self, dir: &Path) -> Settings {
        let mut s = self.base.clone();
        s.database = dir.join("hemiwatch.sqlite");
        s.seats.extend(self.seats.iter().map(|(place, key)| SeatSettings {
            place: place.clone(),
            key: key.clone(),
            tiers: self.tiers,
            horizon_s: self.horizon_s,
            period_ms: self.period_ms,
        }));
        s
    }
}
