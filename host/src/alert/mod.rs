//! The alert engine: turns what the detectors say into alerts with a lifecycle
//! (`pending` → `firing` → `resolved`), one open alert per (kind, seat) and per line, with
//! acknowledgements, silences, inhibition, and the actions an alert exists for: a `Failover`
//! order to the seat and notifications for the sinks.
//!
//! Pure and synchronous like the detectors: time is a parameter, nothing is written or sent
//! here. The daemon's state task feeds it, drains its [`Change`]s, persists them (storage writes
//! the outbox row in the same transaction) and sends the failover orders; `replay` feeds it a
//! recorded CSV with the clock taken from the data.
//!
//! Rules:
//! - a detector's `Pending` opens a pending alert, `Firing` fires it (directly if need be),
//!   `Clear` resolves it;
//! - `overheat_predicted` and `overheat` firing → order the seat's failover (even when silenced:
//!   a silence mutes notifications, not safety);
//! - a sensor fault suppresses both overheat kinds for that seat (a broken sensor is never an
//!   overheat);
//! - a `line_down` alert stands for its seats: their `seat_silent` alerts are not raised, and
//!   those open are resolved;
//! - notifications go out on firing and on resolving a notified alert; a silenced alert notifies
//!   when its silence ends if it still fires.

mod silence;

use std::collections::{BTreeMap, HashMap};

use hemiwatch_protocol::SeatId;

pub use silence::Silence;

use crate::detect::overheat::Overheat;
use crate::detect::sensor::Sensor;
use crate::detect::trend::Trend;
use crate::detect::{silent, Sample, SeatRules, Signal, Window};
use crate::model::{AckView, AlertView, RequestError, SeatStatus, SilenceMatcher};
use crate::sink::Notification;

/// How often the engine's clock runs ([`AlertEngine::tick`]): the daemon ticks on the wall clock
/// at this rate, `replay` on the data clock; silence deadlines are that precise.
pub const TICK_MS: u64 = silent::CHECK_MS;
/// Resolved alerts kept in memory for the views, at most.
const RECENT_RESOLVED: usize = 200;
/// A seat never heard is watched from the daemon's start plus this grace: the time a whole room
/// needs to say `Hello` and open its sessions after a restart.
const STARTUP_GRACE_MS: u64 = 10_000;
/// A pending prediction whose crossing time moved by more than this is republished.
const PREDICTION_REPUBLISH_MS: u64 = 60_000;

/// Alert kinds.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Critical predicted within the horizon.
    OverheatPredicted,
    /// Critical reached.
    Overheat,
    /// The seat stopped talking.
    SeatSilent,
    /// The seat's temperature cannot be trusted.
    SensorFault,
    /// A whole line is down.
    LineDown,
}

impl Kind {
    /// Every kind.
    pub const ALL: [Kind; 5] = [
        Self::OverheatPredicted,
        Self::Overheat,
        Self::SeatSilent,
        Self::SensorFault,
        Self::LineDown,
    ];

    /// The stable name used in the API, storage, metrics and sinks.
    pub const fn name(self) -> &'static str {
        match self {
            Self::OverheatPredicted => "overheat_predicted",
            Self::Overheat => "overheat",
            Self::SeatSilent => "seat_silent",
            Self::SensorFault => "sensor_fault",
            Self::LineDown => "line_down",
        }
    }

    /// Parses a stable name.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The seat status an open alert of this kind implies.
    const fn status(self) -> SeatStatus {
        match self {
            Self::OverheatPredicted => SeatStatus::OverheatPredicted,
            Self::Overheat => SeatStatus::Overheat,
            Self::SeatSilent | Self::LineDown => SeatStatus::Silent,
            Self::SensorFault => SeatStatus::SensorFault,
        }
    }
}

/// What an alert is about.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Subject {
    Seat(SeatId),
    Line(String),
}

/// What the engine asks the daemon to record and do.
#[derive(Clone, Debug, PartialEq)]
pub enum Change {
    /// An alert was raised, changed state, was acknowledged or silenced.
    Alert {
        /// Its view now.
        view: Box<AlertView>,
        /// What sinks are owed, if anything.
        notify: Option<Box<Notification>>,
        /// Order this seat's failover.
        failover: Option<SeatId>,
    },
    /// A silence was created.
    Silence(Silence),
}

struct Open {
    view: AlertView,
    kind: Kind,
    subject: Subject,
    notified: bool,
}

struct SeatWatch {
    rules: SeatRules,
    window: Window,
    trend: Trend,
    overheat: Overheat,
    sensor: Sensor,
    last_heard_ms: u64,
    heard_on: Option<String>,
    last_temp_c: Option<f64>,
}

#[derive(Default)]
struct LineWatch {
    down_since_ms: Option<u64>,
    seats: Vec<SeatId>,
    /// A `line_down` alert is open (kept here so the per-frame status needs no map lookup).
    alert_open: bool,
}

/// See the module docs.
pub struct AlertEngine {
    seats: BTreeMap<SeatId, SeatWatch>,
    lines: BTreeMap<String, LineWatch>,
    open: BTreeMap<i64, Open>,
    by_key: HashMap<(Kind, Subject), i64>,
    resolved: std::collections::VecDeque<AlertView>,
    silences: Vec<Silence>,
    next_id: i64,
    next_silence_id: i64,
    changes: Vec<Change>,
}

impl AlertEngine {
    /// An engine watching `seats`, started at `now_ms`; alert ids continue after `max_alert_id`.
    pub fn new(seats: impl IntoIterator<Item = SeatRules>, now_ms: u64, max_alert_id: i64) -> Self {
        let mut lines: BTreeMap<String, LineWatch> = BTreeMap::new();
        let seats: BTreeMap<_, _> = seats
            .into_iter()
            .map(|rules| {
                if let Some(l) = &rules.line {
                    lines.entry(l.clone()).or_default().seats.push(rules.seat);
                }
                (
                    rules.seat,
                    SeatWatch {
                        heard_on: rules.line.clone(),
                        rules,
                        window: Window::default(),
                        trend: Trend::default(),
                        overheat: Overheat::default(),
                        sensor: Sensor::default(),
                        last_heard_ms: now_ms + STARTUP_GRACE_MS,
                        last_temp_c: None,
                    },
                )
            })
            .collect();
        Self {
            seats,
            lines,
            open: BTreeMap::new(),
            by_key: HashMap::new(),
            resolved: Default::default(),
            silences: Vec::new(),
            next_id: max_alert_id + 1,
            next_silence_id: 1,
            changes: Vec::new(),
        }
    }

    /// Takes back what was open before a restart: open alerts (with their acknowledgements) and
    /// unexpired silences. Detectors start afresh; a restored alert resolves only on new evidence.
    pub fn restore(&mut self, alerts: Vec<AlertView>, silences: Vec<Silence>, max_silence_id: i64) {
        for view in alerts {
            let Some(kind) = Kind::from_name(&view.kind) else {
                continue;
            };
            let subject = match (&view.seat, &view.line) {
                (Some(seat), _) => Subject::Seat(*seat),
                (None, Some(line)) => Subject::Line(line.clone()),
                _ => continue,
            };
            self.next_id = self.next_id.max(view.id + 1);
            if let Subject::Seat(seat) = &subject {
                // The detectors start without data: make them hold the episode until the
                // evidence clears it, instead of resolving it on their first sample.
                if let Some(w) = self.seats.get_mut(seat) {
                    match kind {
                        Kind::Overheat => w.overheat.assume_firing(),
                        Kind::OverheatPredicted => w.trend.assume_firing(),
                        Kind::SensorFault => w.sensor.assume_fault(crate::detect::sensor::Fault::Flagged),
                        Kind::SeatSilent | Kind::LineDown => {}
                    }
                }
            }
            if let Subject::Line(l) = &subject {
                self.lines.entry(l.clone()).or_default().alert_open = true;
            }
            self.by_key.insert((kind, subject.clone()), view.id);
            let notified = view.state == "firing" && !view.silenced;
            self.open.insert(
                view.id,
                Open {
                    view,
                    kind,
                    subject,
                    notified,
                },
            );
        }
        self.next_silence_id = self.next_silence_id.max(max_silence_id + 1);
        self.silences = silences;
    }

    /// A verified frame of any kind arrived from `seat` on `line`: it is alive.
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
    }

    /// The seat announced its telemetry period (`Hello`).
    pub fn on_period(&mut self, seat: SeatId, period_ms: u64) {
        if let Some(w) = self.seats.get_mut(&seat) {
            if period_ms > 0 {
                w.rules.period_ms = period_ms;
            }
        }
    }

    /// A telemetry sample: runs the sensor, trend and overheat detectors.
    pub fn on_sample(&mut self, seat: SeatId, s: Sample) {
        let Some(w) = self.seats.get_mut(&seat) else {
            return;
        };
        let (sensor, usable) = w.sensor.update(&s);
        let (mut trend, mut overheat) = (Signal::Clear, Signal::Clear);
        if sensor == Signal::Clear || usable {
            if let Some(t) = s.temp_c.filter(|_| usable) {
                w.last_temp_c = Some(t);
                let closed = w.window.push(s.t_ms, t);
                if sensor == Signal::Clear {
                    trend = w.trend.update(&w.window, closed, s.t_ms, &w.rules);
                    overheat = w.overheat.update(&w.window, s.t_ms, &w.rules);
                }
            }
        }
        if sensor != Signal::Clear {
            // A faulty sensor is never an overheat: forget the episode.
            w.trend.reset();
            w.overheat.reset();
            w.window.reset();
        }
        self.set(Kind::SensorFault, Subject::Seat(seat), sensor, s.t_ms);
        self.set(Kind::Overheat, Subject::Seat(seat), overheat, s.t_ms);
        self.set(Kind::OverheatPredicted, Subject::Seat(seat), trend, s.t_ms);
        self.refresh_prediction(seat, s.t_ms);
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

    /// Time passes: silences, lines, expiring silences.
    pub fn tick(&mut self, now_ms: u64) {
        // Lines first: a line that went down stands for its seats before they are checked.
        let lines: Vec<String> = self.lines.keys().cloned().collect();
        for line in lines {
            self.check_line(&line, now_ms);
        }
        let ids: Vec<SeatId> = self.seats.keys().copied().collect();
        for seat in ids {
            let (signal, line) = {
                let w = &self.seats[&seat];
                (
                    silent::seat_signal(w.last_heard_ms, w.rules.period_ms, now_ms),
                    w.rules.line.clone().or_else(|| w.heard_on.clone()),
                )
            };
            let inhibited = line.is_some_and(|l| self.lines.get(&l).is_some_and(|l| l.alert_open));
            let signal = if inhibited { Signal::Clear } else { signal };
            self.set(Kind::SeatSilent, Subject::Seat(seat), signal, now_ms);
        }
        self.expire_silences(now_ms);
    }

    fn check_line(&mut self, line: &str, now_ms: u64) {
        let Some(l) = self.lines.get(line) else { return };
        let period = l
            .seats
            .iter()
            .filter_map(|s| self.seats.get(s))
            .map(|w| w.rules.period_ms)
            .max()
            .unwrap_or(500);
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
        if !was_open && signal != Signal::Clear {
            // The line alert now stands for its seats.
            let seats = self.lines.get(line).map(|l| l.seats.clone()).unwrap_or_default();
            for s in seats {
                self.set(Kind::SeatSilent, Subject::Seat(s), Signal::Clear, now_ms);
            }
        }
    }

    /// Acknowledges an open alert.
    pub fn ack(&mut self, id: i64, by: &str, comment: &str, now_ms: u64) -> Result<AlertView, RequestError> {
        if by.trim().is_empty() {
            return Err(RequestError::Invalid("`by` must name who acknowledges".into()));
        }
        let Some(open) = self.open.get_mut(&id) else {
            return if self.resolved.iter().any(|a| a.id == id) {
                Err(RequestError::Invalid(format!("alert {id} is already resolved")))
            } else {
                Err(RequestError::NoSuchAlert(id))
            };
        };
        open.view.ack = Some(AckView {
            by: by.to_owned(),
            at_ms: now_ms,
            comment: comment.to_owned(),
        });
        open.view.updated_at_ms = now_ms;
        let view = open.view.clone();
        self.changes.push(Change::Alert {
            view: Box::new(view.clone()),
            notify: None,
            failover: None,
        });
        Ok(view)
    }

    /// Silences matching alerts until `until_ms`.
    pub fn silence(
        &mut self,
        matcher: SilenceMatcher,
        until_ms: u64,
        by: &str,
        comment: &str,
        now_ms: u64,
    ) -> Result<Silence, RequestError> {
        if until_ms <= now_ms {
            return Err(RequestError::Invalid("the silence must end in the future".into()));
        }
        if by.trim().is_empty() {
            return Err(RequestError::Invalid("`by` must name who silences".into()));
        }
        if let Some(kind) = &matcher.kind {
            if Kind::from_name(kind).is_none() {
                return Err(RequestError::Invalid(format!(
                    "unknown alert kind `{kind}`; expected one of {}",
                    Kind::ALL.map(Kind::name).join(", ")
                )));
            }
        }
        let s = Silence {
            id: self.next_silence_id,
            matcher,
            until_ms,
            by: by.to_owned(),
            comment: comment.to_owned(),
            created_at_ms: now_ms,
        };
        self.next_silence_id += 1;
        self.silences.push(s.clone());
        self.changes.push(Change::Silence(s.clone()));
        let ids: Vec<i64> = self.open.keys().copied().collect();
        for id in ids {
            self.update_silenced(id, now_ms);
        }
        Ok(s)
    }

    /// Changes since the last call, in order.
    pub fn drain(&mut self) -> Vec<Change> {
        std::mem::take(&mut self.changes)
    }

    /// The status the open alerts give a seat (`None`: no alert about it).
    pub fn status(&self, seat: SeatId) -> Option<SeatStatus> {
        let line_down = self
            .seats
            .get(&seat)
            .and_then(|w| w.rules.line.as_deref().or(w.heard_on.as_deref()))
            .and_then(|l| self.lines.get(l))
            .filter(|l| l.alert_open)
            .map(|_| SeatStatus::Silent);
        if self.by_key.is_empty() {
            // The common case, on every frame: nothing open anywhere.
            return line_down;
        }
        Kind::ALL
            .into_iter()
            .filter_map(|k| {
                let id = self.by_key.get(&(k, Subject::Seat(seat)))?;
                let open = self.open.get(id)?;
                // A prediction shows once it fires; a silence shows at once (the 2.5-period bound).
                (open.view.state == "firing" || k == Kind::SeatSilent).then(|| k.status())
            })
            .chain(line_down)
            .max()
    }

    /// Seats of a line (for the state task to refresh their status on a line change).
    pub fn line_seats(&self, line: &str) -> &[SeatId] {
        self.lines.get(line).map(|l| l.seats.as_slice()).unwrap_or(&[])
    }

    /// Open alerts and the recently resolved ones, for a fresh view.
    pub fn alerts(&self) -> impl Iterator<Item = &AlertView> {
        self.open.values().map(|o| &o.view).chain(self.resolved.iter())
    }

    fn set(&mut self, kind: Kind, subject: Subject, signal: Signal, now_ms: u64) {
        if signal == Signal::Clear && self.by_key.is_empty() {
            return; // every frame clears its seat's silence: usually nothing to look up
        }
        let key = (kind, subject);
        match (self.by_key.get(&key).copied(), signal) {
            (None, Signal::Clear) => {}
            (None, s) => {
                let id = self.next_id;
                self.next_id += 1;
                let view = self.new_view(id, kind, &key.1, now_ms);
                self.by_key.insert(key.clone(), id);
                self.open.insert(
                    id,
                    Open {
                        view,
                        kind,
                        subject: key.1.clone(),
                        notified: false,
                    },
                );
                self.update_silenced(id, now_ms);
                if s == Signal::Firing {
                    self.fire(id, now_ms);
                } else {
                    self.publish(id, None, None);
                }
            }
            (Some(id), Signal::Clear) => self.resolve(id, now_ms),
            (Some(id), Signal::Firing) => {
                if self.open.get(&id).is_some_and(|o| o.view.state == "pending") {
                    self.fire(id, now_ms);
                }
            }
            (Some(_), Signal::Pending) => {}
        }
    }

    fn new_view(&self, id: i64, kind: Kind, subject: &Subject, now_ms: u64) -> AlertView {
        let (seat, line, sector) = match subject {
            Subject::Seat(s) => (
                Some(*s),
                self.seats
                    .get(s)
                    .and_then(|w| w.rules.line.clone().or_else(|| w.heard_on.clone())),
                self.seats.get(s).map(|w| w.rules.sector.clone()),
            ),
            Subject::Line(l) => (None, Some(l.clone()), None),
        };
        AlertView {
            id,
            kind: kind.name().into(),
            seat,
            line,
            sector,
            state: "pending".into(),
            started_at_ms: now_ms,
            updated_at_ms: now_ms,
            predicted_critical_at_ms: None,
            summary: self.summary(kind, subject, now_ms),
            ack: None,
            silenced: false,
        }
    }

    fn summary(&self, kind: Kind, subject: &Subject, now_ms: u64) -> String {
        let seat_name = |s: &SeatId| {
            self.seats
                .get(s)
                .map(|w| format!("{} (seat {s})", w.rules.label))
                .unwrap_or_else(|| format!("seat {s}"))
        };
        match (kind, subject) {
            (Kind::OverheatPredicted, Subject::Seat(s)) => {
                let w = self.seats.get(s);
                let critical = w.map_or(85.0, |w| w.rules.critical_c);
                let now = w.and_then(|w| w.window.level()).unwrap_or(f64::NAN);
                let slope = w.and_then(|w| w.trend.slope_c_per_min()).unwrap_or(f64::NAN);
                let eta = w
                    .and_then(|w| w.trend.predicted_at_ms())
                    .map(|t| t.saturating_sub(now_ms) / 1_000)
                    .unwrap_or(0);
                format!(
                    "{} will reach its critical {critical:.1} °C in about {} min {} s (now {now:.1} °C, rising {slope:.1} °C/min): switch it to its standby",
                    seat_name(s),
                    eta / 60,
                    eta % 60
                )
            }
            (Kind::Overheat, Subject::Seat(s)) => {
                let w = self.seats.get(s);
                format!(
                    "{} is at {:.1} °C, at or above its critical {:.1} °C",
                    seat_name(s),
                    w.and_then(|w| w.window.level()).unwrap_or(f64::NAN),
                    w.map_or(85.0, |w| w.rules.critical_c)
                )
            }
            (Kind::SeatSilent, Subject::Seat(s)) => {
                let period = self.seats.get(s).map_or(500, |w| w.rules.period_ms);
                format!(
                    "{} has stopped talking (telemetry period {period} ms)",
                    seat_name(s)
                )
            }
            (Kind::SensorFault, Subject::Seat(s)) => {
                let why = self
                    .seats
                    .get(s)
                    .and_then(|w| w.sensor.fault())
                    .map_or("sensor fault", |f| f.describe());
                format!("{}: {why}; its temperature is not trusted", seat_name(s))
            }
            (_, Subject::Line(l)) => {
                let n = self.lines.get(l).map_or(0, |l| l.seats.len());
                format!("line {l} is down: none of its {n} seats can be heard")
            }
            (_, Subject::Seat(s)) => format!("{}: {}", seat_name(s), kind.name()),
        }
    }

    fn refresh_prediction(&mut self, seat: SeatId, now_ms: u64) {
        let Some(&id) = self.by_key.get(&(Kind::OverheatPredicted, Subject::Seat(seat))) else {
            return;
        };
        let predicted = self.seats.get(&seat).and_then(|w| w.trend.predicted_at_ms());
        let summary = self.summary(Kind::OverheatPredicted, &Subject::Seat(seat), now_ms);
        let Some(open) = self.open.get_mut(&id) else {
            return;
        };
        let moved = match (open.view.predicted_critical_at_ms, predicted) {
            (Some(a), Some(b)) => a.abs_diff(b) > PREDICTION_REPUBLISH_MS,
            (None, Some(_)) => true,
            _ => false,
        };
        if predicted.is_some() {
            open.view.predicted_critical_at_ms = predicted;
        }
        if moved {
            open.view.summary = summary;
            open.view.updated_at_ms = now_ms;
            self.publish(id, None, None);
        }
    }

    fn fire(&mut self, id: i64, now_ms: u64) {
        let seat_of = |o: &Open| match o.subject {
            Subject::Seat(s) => Some(s),
            Subject::Line(_) => None,
        };
        let (kind, subject) = match self.open.get(&id) {
            Some(o) => (o.kind, o.subject.clone()),
            None => return,
        };
        let summary = self.summary(kind, &subject, now_ms);
        let label = self.label(&subject);
        let predicted = match subject {
            Subject::Seat(s) if kind == Kind::OverheatPredicted => {
                self.seats.get(&s).and_then(|w| w.trend.predicted_at_ms())
            }
            _ => None,
        };
        let Some(open) = self.open.get_mut(&id) else {
            return;
        };
        open.view.state = "firing".into();
        open.view.updated_at_ms = now_ms;
        open.view.summary = summary;
        if predicted.is_some() {
            open.view.predicted_critical_at_ms = predicted;
        }
        let failover = matches!(kind, Kind::OverheatPredicted | Kind::Overheat)
            .then(|| seat_of(open))
            .flatten();
        let notify = (!open.view.silenced).then(|| {
            open.notified = true;
            notification(&open.view, None, label.clone())
        });
        self.publish(id, notify, failover);
    }

    fn resolve(&mut self, id: i64, now_ms: u64) {
        let Some(mut open) = self.open.remove(&id) else {
            return;
        };
        self.by_key.remove(&(open.kind, open.subject.clone()));
        let label = self.label(&open.subject);
        let was_firing = open.view.state == "firing";
        open.view.state = "resolved".into();
        open.view.updated_at_ms = now_ms;
        let notify = (was_firing && open.notified).then(|| notification(&open.view, Some(now_ms), label));
        self.changes.push(Change::Alert {
            view: Box::new(open.view.clone()),
            notify: notify.map(Box::new),
            failover: None,
        });
        if self.resolved.len() >= RECENT_RESOLVED {
            self.resolved.pop_front();
        }
        self.resolved.push_back(open.view);
    }

    fn update_silenced(&mut self, id: i64, now_ms: u64) {
        let Some(open) = self.open.get(&id) else { return };
        let sector = match &open.subject {
            Subject::Seat(s) => self.seats.get(s).map(|w| w.rules.sector.as_str()),
            Subject::Line(_) => None,
        };
        let silenced = self
            .silences
            .iter()
            .any(|s| s.until_ms > now_ms && s.matches(&open.view, sector));
        let label = self.label(&open.subject);
        if let Some(open) = self.open.get_mut(&id) {
            if open.view.silenced != silenced {
                open.view.silenced = silenced;
                open.view.updated_at_ms = now_ms;
                // Unmuted while firing and never notified: the sinks hear of it now.
                let notify = (!silenced && open.view.state == "firing" && !open.notified).then(|| {
                    open.notified = true;
                    notification(&open.view, None, label)
                });
                self.publish(id, notify, None);
            }
        }
    }

    fn expire_silences(&mut self, now_ms: u64) {
        let before = self.silences.len();
        self.silences.retain(|s| s.until_ms > now_ms);
        if self.silences.len() != before {
            let ids: Vec<i64> = self.open.keys().copied().collect();
            for id in ids {
                self.update_silenced(id, now_ms);
            }
        }
    }

    fn publish(&mut self, id: i64, notify: Option<Notification>, failover: Option<SeatId>) {
        if let Some(open) = self.open.get(&id) {
            self.changes.push(Change::Alert {
                view: Box::new(open.view.clone()),
                notify: notify.map(Box::new),
                failover,
            });
        }
    }

    /// The rules of a seat.
    pub fn rules(&self, seat: SeatId) -> Option<&SeatRules> {
        self.seats.get(&seat).map(|w| &w.rules)
    }

    fn label(&self, subject: &Subject) -> Option<String> {
        match subject {
            Subject::Seat(s) => self.seats.get(s).map(|w| w.rules.label.clone()),
            Subject::Line(_) => None,
        }
    }
}

/// The notification of an alert's current state (`resolved_at_ms` when resolving).
fn notification(view: &AlertView, resolved_at_ms: Option<u64>, label: Option<String>) -> Notification {
    Notification {
        id: view.id,
        kind: view.kind.clone(),
        state: view.state.clone(),
        seat: view.seat,
        label,
        sector: view.sector.clone(),
        line: view.line.clone(),
        summary: view.summary.clone(),
        started_at_ms: view.started_at_ms,
        resolved_at_ms,
        predicted_critical_at_ms: view.predicted_critical_at_ms,
    }
}

impl std::fmt::Debug for AlertEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertEngine")
            .field("seats", &self.seats.len())
            .field("open", &self.open.len())
            .finish()
    }
}

#[cfg(test)]
mod tests;
