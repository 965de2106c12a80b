use hemiwatch_protocol::SeatId;

use super::*;
use crate::detect::Sample;
use crate::model::{RequestError, SilenceMatcher};

const T0: u64 = 1_000_000;

fn rules(seat: SeatId, line: &str) -> SeatRules {
    SeatRules {
        label: format!("A-01-{seat:02}"),
        sector: "A".into(),
        line: Some(line.into()),
        ..SeatRules::defaults(seat)
    }
}

fn engine(seats: &[(SeatId, &str)]) -> AlertEngine {
    AlertEngine::new(seats.iter().map(|(s, l)| rules(*s, l)), T0, 0)
}

fn sample(t_ms: u64, temp: f64) -> Sample {
    Sample {
        t_ms,
        temp_c: Some(temp),
        flags: 0,
    }
}

/// Feeds `seat` at 2 Hz from `from` for `secs` with `f(t_s)`, ticking; returns all changes.
fn feed(e: &mut AlertEngine, seat: SeatId, from: u64, secs: u64, f: impl Fn(f64) -> f64) -> Vec<AlertChange> {
    let mut out = Vec::new();
    for i in 0..secs * 2 {
        let t = from + i * 500;
        e.on_heard(seat, Some("a"), t);
        e.on_sample(seat, sample(t, f(i as f64 / 2.0)));
        e.tick(t);
        out.extend(e.drain());
    }
    out
}

/// The successive states of alerts of `kind` (republications of a state counted once).
fn states(changes: &[AlertChange], kind: Kind) -> Vec<AlertState> {
    let mut out: Vec<AlertState> = changes
        .iter()
        .filter_map(|c| match c {
            AlertChange::Alert { view, .. } if view.kind == kind => Some(view.state),
            _ => None,
        })
        .collect();
    out.dedup();
    out
}

#[test]
fn a_runaway_goes_pending_then_firing_orders_failover_notifies_and_resolves_after_cooling() {
    let mut e = engine(&[(1, "a")]);
    // Steady, then 6 °C/min from 60 s.
    let runaway = |t: f64| 50.0 + if t > 60.0 { (t - 60.0) / 10.0 } else { 0.0 };
    let changes = feed(&mut e, 1, T0, 360, runaway);
    assert_eq!(
        states(&changes, Kind::OverheatPredicted)[..2],
        [AlertState::Pending, AlertState::Firing]
    );
    let firing = changes
        .iter()
        .find_map(|c| match c {
            AlertChange::Alert {
                view,
                notify,
                failover,
            } if view.state == AlertState::Firing => Some((view.clone(), notify.clone(), *failover)),
            _ => None,
        })
        .unwrap();
    // The warning alone orders nothing; the trend's confident second stage orders the failover.
    assert_eq!(firing.2, None, "a prediction is an early warning, not an order");
    let order = changes
        .iter()
        .find_map(|c| match c {
            AlertChange::Failover(o) => Some(*o),
            _ => None,
        })
        .expect("failover ordered");
    assert_eq!(order.seat, 1);
    assert!(
        order.prediction.confident && order.prediction.asymptote_c.lo > 85.0,
        "{order:?}"
    );
    assert!(
        order.at_ms < T0 + 410_000 - 60_000,
        "ordered a minute before the crossing: {order:?}"
    );
    let n = firing.1.expect("sinks notified");
    assert_eq!(n.label.as_deref(), Some("A-01-01"));
    let predicted = firing.0.predicted_critical_at_ms.unwrap();
    // 85 °C is reached at 60 + 350 s = 410 s.
    let truth = T0 + 410_000;
    assert!(
        predicted.abs_diff(truth) < 30_000,
        "predicted {predicted}, truth {truth}"
    );
    assert!(
        firing.0.started_at_ms < truth - 60_000,
        "at least a minute of lead"
    );
    assert_eq!(e.status(1), Some(SeatStatus::OverheatPredicted));
    // Cools after failover: resolves and notifies the resolution.
    let cool = feed(&mut e, 1, T0 + 360_000, 600, |t| 40.0 + 46.0 * (-t / 60.0).exp());
    let resolved: Vec<_> = cool
        .iter()
        .filter_map(|c| match c {
            AlertChange::Alert { view, notify, .. } if view.state == AlertState::Resolved => {
                Some((view.kind, notify.clone()))
            }
            _ => None,
        })
        .collect();
    assert!(
        resolved
            .iter()
            .any(|(k, n)| *k == Kind::OverheatPredicted && n.is_some()),
        "{resolved:?}"
    );
    assert_eq!(e.status(1), None);
}

#[test]
fn a_silent_seat_is_pending_within_two_and_a_half_periods_fires_later_and_resolves_when_heard() {
    let mut e = engine(&[(1, "a"), (2, "a")]);
    let start = T0 + watch::STARTUP_GRACE_MS;
    let mut t = start;
    while t < start + 5_000 {
        e.on_heard(1, Some("a"), t);
        e.on_heard(2, Some("a"), t);
        e.tick(t);
        t += 100;
    }
    e.drain();
    let last = t - 100;
    // Seat 2 dies.
    let mut pending_at = None;
    let mut firing_at = None;
    while t < last + 5_000 {
        e.on_heard(1, Some("a"), t);
        e.tick(t);
        for c in e.drain() {
            if let AlertChange::Alert { view, notify, .. } = c {
                assert_eq!(view.kind, Kind::SeatSilent);
                match view.state {
                    AlertState::Pending => pending_at = pending_at.or(Some(t)),
                    AlertState::Firing => {
                        firing_at = firing_at.or(Some(t));
                        assert!(notify.is_some());
                    }
                    s => panic!("{s}"),
                }
            }
        }
        t += 100;
    }
    let pending = pending_at.unwrap() - last;
    assert!(pending <= 1_250 + 100, "pending after {pending} ms (period 500)");
    assert_eq!(e.status(2), Some(SeatStatus::Silent));
    assert!(firing_at.unwrap() - last <= 2_250 + 100);
    e.on_heard(2, Some("a"), t);
    assert_eq!(states(&e.drain(), Kind::SeatSilent), [AlertState::Resolved]);
    assert_eq!(e.status(2), None);
}

#[test]
fn a_dead_line_is_one_alert_not_one_per_seat() {
    let seats: Vec<(SeatId, &str)> = (1..=50).map(|s| (s, "a")).collect();
    let mut e = engine(&seats);
    let start = T0 + watch::STARTUP_GRACE_MS;
    for s in 1..=50 {
        e.on_heard(s, Some("a"), start);
    }
    e.on_line("a", false, start + 100);
    let mut kinds = Vec::new();
    let mut t = start;
    while t < start + 10_000 {
        e.tick(t);
        for c in e.drain() {
            if let AlertChange::Alert { view, .. } = c {
                kinds.push((view.kind, view.state));
            }
        }
        t += 100;
    }
    assert_eq!(
        kinds,
        [
            (Kind::LineDown, AlertState::Pending),
            (Kind::LineDown, AlertState::Firing)
        ]
    );
    assert_eq!(e.status(17), Some(SeatStatus::Silent));
    e.on_line("a", true, t);
    for s in 1..=50 {
        e.on_heard(s, Some("a"), t);
    }
    e.tick(t);
    assert_eq!(states(&e.drain(), Kind::LineDown), [AlertState::Resolved]);
}

#[test]
fn a_faulty_sensor_is_never_an_overheat() {
    let mut e = engine(&[(1, "a")]);
    let mut changes = Vec::new();
    for i in 0..400u64 {
        let t = T0 + i * 500;
        e.on_heard(1, Some("a"), t);
        // The seat flags its sensor and reads garbage that climbs past critical.
        e.on_sample(
            1,
            Sample {
                t_ms: t,
                temp_c: Some(60.0 + i as f64),
                flags: hemiwatch_protocol::Flags::SENSOR_FAULT,
            },
        );
        changes.extend(e.drain());
    }
    assert_eq!(states(&changes, Kind::SensorFault), [AlertState::Firing]);
    assert!(states(&changes, Kind::Overheat).is_empty());
    assert!(states(&changes, Kind::OverheatPredicted).is_empty());
    assert_eq!(e.status(1), Some(SeatStatus::SensorFault));
    // Out of range without the flag: a sensor fault too.
    let mut e = engine(&[(2, "a")]);
    e.on_sample(2, sample(T0, 40.0));
    e.on_sample(2, sample(T0 + 500, 200.0));
    let c = e.drain();
    assert_eq!(states(&c, Kind::SensorFault), [AlertState::Firing]);
    assert!(states(&c, Kind::Overheat).is_empty());
}

/// The tier notifications among `changes`, in order: (kind, firing/resolved).
fn tier_notices(changes: &[AlertChange]) -> Vec<(Kind, AlertState)> {
    changes
        .iter()
        .filter_map(|c| match c {
            AlertChange::Alert { notify: Some(n), .. } if n.kind.tier().is_some() => Some((n.kind, n.state)),
            _ => None,
        })
        .collect()
}

/// A seat whose predictor looks only a second ahead (it warns only once the level is at
/// critical), so what is seen is the tiers'.
fn tier_engine() -> AlertEngine {
    AlertEngine::new(
        [SeatRules {
            horizon_ms: 1_000,
            ..rules(1, "a")
        }],
        T0,
        0,
    )
}

#[test]
fn tiers_rise_notify_each_once_order_the_failover_at_critical_and_clear_at_their_clear_levels() {
    let mut e = tier_engine();
    let mut all = Vec::new();
    let mut t = T0;
    // (°C held for a minute, the status after it, the tier notices of that minute)
    let phases = [
        (60.0, None, vec![]),
        (
            75.0,
            Some(SeatStatus::Warm),
            vec![(Kind::TemperatureWarn, AlertState::Firing)],
        ),
        (
            88.0,
            Some(SeatStatus::Overheat),
            vec![(Kind::Overheat, AlertState::Firing)],
        ),
        (
            97.0,
            Some(SeatStatus::OverheatEmergency),
            vec![(Kind::OverheatEmergency, AlertState::Firing)],
        ),
        // Under emergency's clear level (94 °C), still over critical.
        (
            90.0,
            Some(SeatStatus::Overheat),
            vec![(Kind::OverheatEmergency, AlertState::Resolved)],
        ),
        // 84.5 °C: under critical, above its clear level (84 °C): critical stands.
        (84.5, Some(SeatStatus::Overheat), vec![]),
        (
            80.0,
            Some(SeatStatus::Warm),
            vec![(Kind::Overheat, AlertState::Resolved)],
        ),
        // Under warn (70 °C) but above its clear level (69 °C): warn stands.
        (69.5, Some(SeatStatus::Warm), vec![]),
        (65.0, None, vec![(Kind::TemperatureWarn, AlertState::Resolved)]),
    ];
    for (c, status, notices) in phases {
        let changes = feed(&mut e, 1, t, 60, |_| c);
        t += 60_000;
        assert_eq!(tier_notices(&changes), notices, "at {c} °C");
        let worst = e.status(1).filter(|s| *s != SeatStatus::OverheatPredicted);
        assert_eq!(worst, status, "at {c} °C");
        all.extend(changes);
    }
    // The critical tier orders the failover as it fires; the warn tier never does.
    let fired = |kind: Kind| {
        all.iter()
            .find_map(|c| match c {
                AlertChange::Alert { view, failover, .. }
                    if view.kind == kind && view.state == AlertState::Firing =>
                {
                    Some(*failover)
                }
                _ => None,
            })
            .unwrap_or_else(|| panic!("{kind} fired"))
    };
    assert_eq!(fired(Kind::TemperatureWarn), None);
    assert_eq!(fired(Kind::Overheat), Some(1));
    assert_eq!(fired(Kind::OverheatEmergency), Some(1));
    // Each tier waited its dwell: warn fired 6 s into the 75 °C minute (three samples for the
    // median, then 5 s), not at its first sample.
    let warn_at = all
        .iter()
        .find_map(|c| match c {
            AlertChange::Alert { view, .. } if view.kind == Kind::TemperatureWarn => Some(view.started_at_ms),
            _ => None,
        })
        .unwrap();
    assert_eq!(warn_at, T0 + 60_000 + 6_000);
}

#[test]
fn a_jump_to_emergency_pages_once_and_each_lower_tier_as_the_seat_falls_back_to_it() {
    let mut e = tier_engine();
    let mut t = T0;
    let mut phase = |e: &mut AlertEngine, c: f64| {
        let changes = feed(e, 1, t, 60, |_| c);
        t += 60_000;
        changes
    };
    phase(&mut e, 60.0);
    let jump = phase(&mut e, 100.0);
    // All three tiers fire together; only the highest notifies…
    assert_eq!(
        tier_notices(&jump),
        [(Kind::OverheatEmergency, AlertState::Firing)]
    );
    for k in [Kind::TemperatureWarn, Kind::Overheat] {
        assert_eq!(states(&jump, k), [AlertState::Firing], "{k} stands, inhibited");
    }
    // …and the failover is ordered all the same: inhibition mutes notifications, not safety.
    assert!(jump.iter().any(|c| matches!(
        c,
        AlertChange::Alert { view, failover: Some(1), .. } if view.kind == Kind::Overheat
    )));
    assert_eq!(e.status(1), Some(SeatStatus::OverheatEmergency));
    // Back under emergency: its resolution, and the overheat that still fires is told now.
    let back = phase(&mut e, 90.0);
    assert_eq!(
        tier_notices(&back),
        [
            (Kind::OverheatEmergency, AlertState::Resolved),
            (Kind::Overheat, AlertState::Firing)
        ]
    );
    // Straight to normal: warn and critical clear together; warn, never told, stays quiet.
    let cool = phase(&mut e, 60.0);
    assert_eq!(tier_notices(&cool), [(Kind::Overheat, AlertState::Resolved)]);
    assert_eq!(states(&cool, Kind::TemperatureWarn), [AlertState::Resolved]);
    assert_eq!(e.status(1), None);
}

#[test]
fn ack_and_silence() {
    let mut e = engine(&[(1, "a")]);
    let changes = feed(&mut e, 1, T0, 8, |_| 90.0);
    let id = changes
        .iter()
        .find_map(|c| match c {
            AlertChange::Alert { view, .. } if view.kind == Kind::Overheat => Some(view.id),
            _ => None,
        })
        .unwrap();
    assert_eq!(e.ack(999, "bob", "", T0), Err(RequestError::NoSuchAlert(999)));
    assert!(matches!(e.ack(id, " ", "", T0), Err(RequestError::Invalid(_))));
    let acked = e.ack(id, "bob", "replacing the fan", T0 + 2_000).unwrap();
    assert_eq!(acked.ack.unwrap().by, "bob");

    // A silence on sector A mutes the next alert's notification, not its failover.
    let mut e = engine(&[(1, "a")]);
    let matcher = SilenceMatcher {
        sector: Some("A".into()),
        ..Default::default()
    };
    assert!(matches!(
        e.silence(matcher.clone(), T0 - 1, "bob", "", T0),
        Err(RequestError::Invalid(_))
    ));
    let bad_kind = SilenceMatcher {
        kind: Some("overhead".into()),
        ..Default::default()
    };
    assert!(matches!(
        e.silence(bad_kind, T0 + 1, "bob", "", T0),
        Err(RequestError::Invalid(_))
    ));
    e.silence(matcher, T0 + 60_000, "bob", "maintenance", T0).unwrap();
    let changes = feed(&mut e, 1, T0, 8, |_| 90.0);
    let (notify, failover) = changes
        .iter()
        .find_map(|c| match c {
            AlertChange::Alert {
                view,
                notify,
                failover,
            } if view.state == AlertState::Firing => {
                assert!(view.silenced);
                Some((notify.clone(), *failover))
            }
            _ => None,
        })
        .unwrap();
    assert!(notify.is_none());
    assert_eq!(failover, Some(1));
    // The silence ends while it still fires: the sinks hear of it then.
    e.tick(T0 + 60_001);
    let late = e.drain();
    assert!(
        late.iter().any(|c| matches!(c, AlertChange::Alert { view, notify: Some(_), .. } if view.state == AlertState::Firing && !view.silenced)),
        "{late:?}"
    );
}

#[test]
fn restored_alerts_keep_their_ids_and_acks_and_new_ids_continue() {
    let mut e = engine(&[(1, "a")]);
    let changes = feed(&mut e, 1, T0, 8, |_| 90.0);
    let view = changes
        .iter()
        .find_map(|c| match c {
            AlertChange::Alert { view, .. } if view.state == AlertState::Firing => Some(view.clone()),
            _ => None,
        })
        .unwrap();
    let acked = e.ack(view.id, "bob", "", T0).unwrap();
    // The warn tier stands with the critical one (the tiers nest): both were open.
    let warn = e
        .alerts()
        .find(|a| a.kind == Kind::TemperatureWarn)
        .cloned()
        .unwrap();
    let mut e2 = AlertEngine::new([rules(1, "a"), rules(2, "a")], T0 + 100_000, 7);
    e2.restore(vec![acked, warn], Vec::new(), 0);
    assert_eq!(e2.alerts().next().unwrap().ack.as_ref().unwrap().by, "bob");
    // Still hot after the restart: the same alert, no new one.
    let after = feed(&mut e2, 1, T0 + 100_000, 8, |_| 90.0);
    assert!(states(&after, Kind::Overheat).is_empty(), "{after:?}");
    assert!(states(&after, Kind::TemperatureWarn).is_empty(), "{after:?}");
    // A new alert gets a fresh id.
    let fault = feed(&mut e2, 2, T0 + 100_000, 1, |_| 300.0);
    let id = fault
        .iter()
        .find_map(|c| match c {
            AlertChange::Alert { view, .. } => Some(view.id),
            _ => None,
        })
        .unwrap();
    assert_eq!(id, 8);
}

/// A dead seat whose last frame was an ack to a ping (within a period of its last telemetry) is
/// `seat_silent`; one that keeps answering (the daemon probes at 1.5 periods) while its telemetry
/// is withheld is `telemetry_missing` — both within 2.5 periods, never "ok".
#[test]
fn a_dead_seat_is_silent_and_a_muted_one_is_telemetry_missing() {
    let mut e = engine(&[(1, "a"), (2, "a"), (3, "a")]);
    let start = T0 + watch::STARTUP_GRACE_MS;
    let mut t = start;
    while t < start + 3_000 {
        for s in 1..=3 {
            e.on_heard(s, Some("a"), t);
            e.on_sample(s, sample(t, 40.0));
        }
        e.tick(t);
        t += 500;
    }
    e.drain();
    let last = t - 500;
    // Seat 1 dies right after answering a ping; seat 2's telemetry is dropped, its acks not.
    e.on_frame(1, last + 100);
    let mut opened = std::collections::BTreeMap::new();
    while t < last + 1_400 {
        e.on_heard(3, Some("a"), t);
        if t == last + 800 {
            e.on_frame(2, t); // the probe's answer
        }
        e.tick(t);
        for c in e.drain() {
            if let AlertChange::Alert { view, .. } = c {
                opened.entry((view.seat, view.kind)).or_insert(t);
            }
        }
        t += 100;
    }
    assert!(opened.contains_key(&(Some(1), Kind::SeatSilent)), "{opened:?}");
    assert!(
        !opened.contains_key(&(Some(1), Kind::TelemetryMissing)),
        "{opened:?}"
    );
    assert!(
        opened.contains_key(&(Some(2), Kind::TelemetryMissing)),
        "{opened:?}"
    );
    assert!(!opened.contains_key(&(Some(2), Kind::SeatSilent)), "{opened:?}");
    assert_eq!(e.status(1), Some(SeatStatus::Silent));
    assert_eq!(e.status(2), Some(SeatStatus::Silent));
    assert_eq!(e.status(3), None);
}
