//! What the engine is told: a seat was heard, announced its period, sent a sample; a line
//! opened or closed; time passed. Each runs the detectors it concerns and hands their signals to
//! the lifecycle. Line inhibition lives here too: a `line_down` alert stands for its seats, whose
//! own `seat_silent` alerts are then neither raised nor kept.

use hemiwatch_protocol::SeatId;

use super::{AlertChange, AlertEngine, Kind, Subject};
use crate::config::defaults::DEFAULT_PERIOD_MS;
use crate::detect::sensor::{Fault, Sensor};
use crate::detect::tamper::Tamper;
use crate::detect::tier::{Tier, Tiers};
use crate::detect::trend::Trend;
use crate::detect::{silent, Sample, SeatRules, Signal, Window};

/// A seat never heard is watched from the daemon's start plus this grace: the time a whole room
/// needs to say `Hello` and open its sessions after a restart.
pub(super) const STARTUP_GRACE_MS: u64 = 10_000;

/// One seat's detectors and liveness.
pub(super) struct SeatWatch {
    /// Thresholds and placement (the period follows the seat's `Hello`).
    pub(super) rules: SeatRules,
    /// Filtered temperature the trend and the tiers read.
    pub(super) window: Window,
    /// Predicts the crossing of critical.
    pub(super) trend: Trend,
    /// The warn, critical and emergency tiers.
    pub(super) tiers: Tiers,
    /// Judges whether the temperature can be trusted.
    pub(super) sensor: Sensor,
    /// Unix ms of the last verified telemetry (or the start-up grace): only telemetry proves a
    /// seat alive, since the kind travels in clear and an attacker can forward all but it.
    pub(super) last_heard_ms: u64,
    /// Unix ms of the last verified frame that was not telemetry (an ack, an event).
    pub(super) last_frame_ms: Option<u64>,
    /// The line the seat was last heard on (for seats configured without one).
    pub(super) heard_on: Option<String>,
}

impl SeatWatch {
    /// A seat not heard yet, watched from `now_ms` plus the start-up grace.
    pub(super) fn new(rules: SeatRules, now_ms: u64) -> Self {
        Self {
            heard_on: rules.line.clone(),
            rules,
            window: Window::default(),
            trend: Trend::default(),
            tiers: Tiers::default(),
            sensor: Sensor::default(),
            last_heard_ms: now_ms + STARTUP_GRACE_MS,
            last_frame_ms: None,
        }
    }

    /// An alert of `kind` about this seat was open before a restart. The detectors start
    /// without data: make the one behind it hold the episode until the evidence clears it,
    /// instead of resolving it on its first sample.
    pub(super) fn hold_episode(&mut self, kind: Kind) {
        match kind {
            Kind::TemperatureWarn | Kind::Overheat | Kind::OverheatEmergency => {
                if let Some(tier) = kind.tier() {
                    self.tiers.assume(tier);
                }
            }
            Kind::OverheatPredicted => self.trend.assume_firing(),
            Kind::SensorFault => self.sensor.assume_fault(Fault::Flagged),
            Kind::SeatSilent
            | Kind::LineDown
            | Kind::StorageFailing
            | Kind::StorageRecovered
            | Kind::DaemonStalled
            | Kind::StorageBacklog
            | Kind::TelemetryMissing
            | Kind::LinkTampering
            | Kind::SinkFailing => {}
        }
    }

    /// The line the seat belongs to: configured, or else where it was heard.
    pub(super) fn line(&self) -> Option<&str> {
        self.rules.line.as_deref().or(self.heard_on.as_deref())
    }
}

/// One line: its seats and whether it is down.
#[derive(Default)]
pub(super) struct LineWatch {
    /// Since when its port is closed.
    pub(super) down_since_ms: Option<u64>,
    /// Seats configured on it.
    pub(super) seats: Vec<SeatId>,
    /// A `line_down` alert is open (kept here so the per-frame status needs no map lookup).
    pub(super) alert_open: bool,
    /// Its recent bad-MAC and replay rejections (the `link_tampering` alert).
    pub(super) tamper: Tamper,
}

impl AlertEngine {
    /// A verified frame that is not telemetry (an ack, an event) arrived from `seat`: it proves
    /// the link works, not that the seat's measurements reach us, so it does not count as
    /// liveness; telemetry missing while such frames arrive is its own alert.
    pub fn on_frame(&mut self, seat: SeatId, now_ms: u64) {
        if let Some(w) = self.seats.get_mut(&seat) {
            w.last_frame_ms = Some(now_ms);
        }
    }

    /// A frame claiming to come from a seat on `line` failed its MAC or was a replay.
    pub fn on_rejected(&mut self, line: &str, now_ms: u64) {
        self.lines
            .entry(line.to_owned())
            .or_default()
            .tamper
            .record(now_ms);
        self.check_tamper(line, now_ms);
    }

    /// Verified telemetry arrived from `seat` on `line`: it is alive (the daemon calls it for
    /// telemetry only; see [`Self::on_frame`]).
    pub fn on_heard(&mut self, seat: SeatId, line: Option<&str>, now_ms: u64) {
        if let Some(w) = self.seats.get_mut(&seat) {
            w.last_heard_ms = now_ms;
            if let Some(l) = line {
                if w.heard_on.as_deref() != Some(l) {
                    w.heard_on = Some(l.to_owned());
                }
            }
        }
        self.set(Kind::SeatSilent, Subject::Seat(seat), Signal::Clear, now_ms);
        self.set(Kind::TelemetryMissing, Subject::Seat(seat), Signal::Clear, now_ms);
    }

    /// The seat announced its telemetry period (`Hello`).
    pub fn on_period(&mut self, seat: SeatId, period_ms: u64) {
        if let Some(w) = self.seats.get_mut(&seat) {
            if period_ms > 0 {
                w.rules.period_ms = period_ms;
            }
        }
    }

    /// A telemetry sample: runs the sensor, trend and tier detectors.
    pub fn on_sample(&mut self, seat: SeatId, s: Sample) {
        let Some(w) = self.seats.get_mut(&seat) else {
            return;
        };
        let (sensor, usable) = w.sensor.update(&s);
        let mut trend = Signal::Clear;
        if sensor == Signal::Clear || usable {
            if let Some(t) = s.temp_c.filter(|_| usable) {
                let closed = w.window.push(s.t_ms, t);
                if sensor == Signal::Clear {
                    trend = w.trend.update(&w.window, closed, s.t_ms, &w.rules);
                    w.tiers.update(&w.window, s.t_ms, &w.rules.tiers);
                }
            }
        }
        if sensor != Signal::Clear {
            // A faulty sensor is never an overheat: forget the episode.
            w.trend.reset();
            w.tiers.reset();
            w.window.reset();
        }
        // A sample without a temperature is no evidence either way: the tiers stand as they were.
        let tier = w.tiers.tier();
        self.set(Kind::SensorFault, Subject::Seat(seat), sensor, s.t_ms);
        self.set_tiers(seat, tier, s.t_ms);
        self.set(Kind::OverheatPredicted, Subject::Seat(seat), trend, s.t_ms);
        if let Some(order) = self
            .seats
            .get_mut(&seat)
            .and_then(|w| w.trend.take_failover_order())
        {
            self.changes.push(AlertChange::Failover(order));
        }
        self.refresh_prediction(seat, s.t_ms);
    }

    /// Applies the tier the seat stands at to its three tier alerts. Clears first, the lowest
    /// tier first, so a lower tier resolving with a higher one is gone before the higher one's
    /// resolution would release its notification; then fires, the highest first, so a seat that
    /// jumps several tiers at once notifies the highest one only (the others are inhibited).
    fn set_tiers(&mut self, seat: SeatId, tier: Option<Tier>, now_ms: u64) {
        for t in Tier::ALL.into_iter().filter(|t| Some(*t) > tier) {
            self.set(Kind::of_tier(t), Subject::Seat(seat), Signal::Clear, now_ms);
        }
        for t in Tier::ALL.into_iter().rev().filter(|t| Some(*t) <= tier) {
            self.set(Kind::of_tier(t), Subject::Seat(seat), t.signal(tier), now_ms);
        }
    }

    /// A line's port opened (`up`) or closed.
    pub fn on_line(&mut self, line: &str, up: bool, now_ms: u64) {
        let l = self.lines.entry(line.to_owned()).or_default();
        l.down_since_ms = if up {
            None
        } else {
            l.down_since_ms.or(Some(now_ms))
        };
        self.check_line(line, now_ms);
    }

    /// Time passes: lines, silent seats, expiring silences.
    pub fn tick(&mut self, now_ms: u64) {
        // Lines first: a line that went down stands for its seats before they are checked.
        let lines: Vec<String> = self.lines.keys().cloned().collect();
        for line in lines {
            self.check_line(&line, now_ms);
            self.check_tamper(&line, now_ms);
        }
        let ids: Vec<SeatId> = self.seats.keys().copied().collect();
        for seat in ids {
            let w = &self.seats[&seat];
            let signal = silent::seat_signal(w.last_heard_ms, w.rules.period_ms, now_ms);
            let inhibited = w
                .line()
                .is_some_and(|l| self.lines.get(l).is_some_and(|l| l.alert_open));
            let signal = if inhibited { Signal::Clear } else { signal };
            // A frame verified more than a period after the last telemetry (the daemon probes an
            // overdue seat at 1.5 periods): the seat answers but its measurements do not reach
            // us. A dead seat's last ack comes within a period of its last telemetry, so it stays
            // `seat_silent`. That alert stands for the seat's silence until telemetry returns.
            let answering = w
                .last_frame_ms
                .is_some_and(|f| f > w.last_heard_ms + w.rules.period_ms);
            let (silent, missing) = if answering {
                (Signal::Clear, signal)
            } else {
                (signal, Signal::Clear)
            };
            self.set(Kind::TelemetryMissing, Subject::Seat(seat), missing, now_ms);
            self.set(Kind::SeatSilent, Subject::Seat(seat), silent, now_ms);
        }
        self.expire_silences(now_ms);
    }

    /// What the storage writer says: `Some(why)` while its commits fail. The alert fires at
    /// once (the writer already retried within the flush interval) and resolves on the first
    /// commit that succeeds.
    pub fn on_storage(&mut self, failing: Option<&str>, now_ms: u64) {
        self.storage_error = failing.map(str::to_owned);
        let signal = if failing.is_some() {
            Signal::Firing
        } else {
            Signal::Clear
        };
        self.set(Kind::StorageFailing, Subject::Daemon, signal, now_ms);
    }

    /// The daemon's own health for an alert `kind` about itself (`daemon_stalled`,
    /// `storage_backlog`): `Some(summary)` while it calls for the alert, `None` once it is over.
    pub fn on_daemon_health(&mut self, kind: Kind, problem: Option<&str>, now_ms: u64) {
        let signal = match problem {
            Some(p) => {
                self.daemon_notes.insert(kind, p.to_owned());
                Signal::Firing
            }
            None => Signal::Clear,
        };
        self.set(kind, Subject::Daemon, signal, now_ms);
    }

    /// The database was replaced at start-up (`what`: what was kept and lost): fires at once and
    /// stands until acknowledged; an earlier one still open is resolved first, so the alert says
    /// what happened last.
    pub fn on_storage_recovered(&mut self, what: &str, now_ms: u64) {
        self.recovery_note = Some(what.to_owned());
        let key = (Kind::StorageRecovered, Subject::Daemon);
        if let Some(id) = self.by_key.get(&key).copied() {
            self.resolve(id, now_ms);
        }
        self.set(key.0, key.1, Signal::Firing, now_ms);
    }

    /// Judges a line's rejected frames: a sustained stream is a masquerade attempt.
    fn check_tamper(&mut self, line: &str, now_ms: u64) {
        let Some(l) = self.lines.get_mut(line) else { return };
        let signal = l.tamper.signal(now_ms);
        self.set(
            Kind::LinkTampering,
            Subject::Line(line.to_owned()),
            signal,
            now_ms,
        );
    }

    /// Judges a line from its port and its seats; a line alert newly raised stands for its seats.
    fn check_line(&mut self, line: &str, now_ms: u64) {
        let Some(l) = self.lines.get(line) else { return };
        let period = l
            .seats
            .iter()
            .filter_map(|s| self.seats.get(s))
            .map(|w| w.rules.period_ms)
            .max()
            // A line whose seats are unknown is assumed to run at the default period.
            .unwrap_or(DEFAULT_PERIOD_MS as u64);
        let seats = l
            .seats
            .iter()
            .filter_map(|s| self.seats.get(s))
            .map(|w| silent::seat_signal(w.last_heard_ms, w.rules.period_ms, now_ms));
        let signal = silent::line_signal(l.down_since_ms, seats, period, now_ms);
        let key = (Kind::LineDown, Subject::Line(line.to_owned()));
        let was_open = self.by_key.contains_key(&key);
        self.set(key.0, key.1.clone(), signal, now_ms);
        let open = self.by_key.contains_key(&key);
        if let Some(l) = self.lines.get_mut(line) {
            l.alert_open = open;
        }
        if was_open && !open {
            // The line speaks again: its seats get one silence window from now to be heard, as
            // on a bus line they speak only in their turns (up to a round period apart), not all
            // at once; the line's alert stood for them until now.
            let seats = self.lines.get(line).map(|l| l.seats.clone()).unwrap_or_default();
            for s in seats {
                if let Some(w) = self.seats.get_mut(&s) {
                    w.last_heard_ms = w.last_heard_ms.max(now_ms);
                }
            }
        }
        if !was_open && signal != Signal::Clear {
            // The line alert now stands for its seats.
            let seats = self.lines.get(line).map(|l| l.seats.clone()).unwrap_or_default();
            for s in seats {
                self.set(Kind::SeatSilent, Subject::Seat(s), Signal::Clear, now_ms);
            }
        }
    }
}
