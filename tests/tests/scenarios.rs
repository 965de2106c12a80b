//! End-to-end scenarios of a parliament's day, on the real daemon process reading simulated
//! seats over real ptys: a quiet session that must raise nothing, and a daemon killed under
//! load that must lose no alert and deliver every notification it owed. (The scenarios with
//! the real firmware in QEMU are in `hil_scenarios.rs`; the unplugged line in `daemon.rs`.)

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hemiwatch_tests::harness::{
    client, line_toml, seat_toml, sim_line, wait_for, Daemon, WebhookReceiver, TOKEN,
};
use serde_json::Value;

/// Telemetry period of the simulated seats, ms.
const PERIOD_MS: u64 = 500;
/// Committed at least this often: what a `kill -9` may lose (the daemon's `flush_interval`).
const LOSS_WINDOW: Duration = Duration::from_secs(1);
/// After a daemon restart a seat speaks again once it has given up on the old host and said
/// `Hello` (firmware HOST_TIMEOUT_MS = 5 s, then HELLO_RETRY_MS = 1 s at most).
const REHANDSHAKE: Duration = Duration::from_secs(6);

fn webhook_toml(url: &str) -> String {
    format!("[[sink]]\nkind = \"webhook\"\nurl = \"{url}\"\ntimeout = \"2s\"\n\n")
}

fn alerts(d: &Daemon, query: &str) -> Vec<Value> {
    d.get(&format!("/api/alerts{query}"))
        .ok()
        .and_then(|v| v["alerts"].as_array().cloned())
        .unwrap_or_default()
}

/// 577 seats at 2 Hz for `QUIET_DAY_MINUTES` (default 10) minutes, on 8 lines of ~72 seats,
/// every console warming up with the session, one in 50 with a noisy glitchy sensor, 1 % of
/// frames lost: no alert may fire and no notification may leave.
#[test]
fn a_quiet_day_of_577_seats_with_1_percent_loss_raises_no_alert() {
    let minutes: u64 = std::env::var("QUIET_DAY_MINUTES")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(10);
    let dir = tempfile::tempdir().unwrap();
    let hook = WebhookReceiver::start(0).unwrap();
    let mut body = webhook_toml(&hook.url);
    let mut sims = Vec::new();
    let mut first = 1u16;
    for (i, name) in ["a", "b", "c", "d", "e", "f", "g", "h"].iter().enumerate() {
        let n = if i < 1 { 73 } else { 72 };
        body += &line_toml(name, dir.path());
        for id in first..first + n {
            body += &seat_toml(id, name, None);
        }
        let seed = (i + 1).to_string();
        sims.push(
            sim_line(
                &dir.path().join(name),
                first,
                n,
                &["--scenario", "day", "--loss-percent", "1", "--seed", &seed],
            )
            .unwrap(),
        );
        first += n;
    }
    assert_eq!(first - 1, 577);
    let daemon = Daemon::start(dir.path(), &body).unwrap();
    wait_for(Duration::from_secs(20), || {
        Ok(daemon
            .seats()?
            .values()
            .all(|s| s["counters"]["frames"].as_u64().unwrap_or(0) > 0))
    })
    .unwrap_or_else(|e| panic!("not every seat reported: {e}\n{}", daemon.log_text()));

    let started = Instant::now();
    let mut worst_firing = 0;
    while started.elapsed() < Duration::from_secs(minutes * 60) {
        std::thread::sleep(Duration::from_secs(5));
        worst_firing = worst_firing.max(alerts(&daemon, "?state=firing").len());
        assert_eq!(worst_firing, 0, "{:#?}", alerts(&daemon, "?state=firing"));
    }

    assert!(
        hook.bodies().is_empty(),
        "notifications left: {:#?}",
        hook.bodies()
    );
    let all = alerts(&daemon, "");
    assert!(
        all.iter()
            .all(|a| a["kind"] == "seat_silent" && a["state"] != "firing"),
        "only short pending silences may appear: {all:#?}"
    );
    let seats = daemon.seats().unwrap();
    let (mut frames, mut lost) = (0u64, 0u64);
    for (id, s) in &seats {
        assert!(
            s["status"] == "ok" || s["status"] == "silent",
            "seat {id} ends {}: {s}",
            s["status"]
        );
        frames += s["counters"]["frames"].as_u64().unwrap_or(0);
        lost += s["counters"]["lost"].as_u64().unwrap_or(0);
    }
    let loss = lost as f64 / (frames + lost) as f64;
    assert!(
        (0.005..0.02).contains(&loss),
        "the line really lost ~1 % of frames: {loss:.4}"
    );
    let expected = 577.0 * (1000.0 / PERIOD_MS as f64) * (minutes * 60) as f64;
    assert!(frames as f64 > 0.95 * expected, "{frames} frames of ~{expected}");
    let stalls = client()
        .get(format!("{}/metrics", daemon.url))
        .send()
        .and_then(|r| r.text())
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("hemiwatch_daemon_stalls_total"))
        .map(str::to_owned)
        .unwrap_or_default();
    eprintln!(
        "quiet day: {minutes} min, {frames} frames, loss {:.2} %, {} short pending silences, 0 firing; {stalls}",
        loss * 100.0,
        all.len()
    );
}

/// Seats 201 and 202 lose their sensors (`sensor_fault` fires), one alert is acknowledged,
/// the webhook receiver is down so nothing can be delivered; `kill -9` under the load of 200
/// seats; the receiver comes up; restart. Both alerts are still firing with the
/// acknowledgement, the owed notifications arrive, and the history gap is the downtime plus
/// the documented loss window and the seats' re-handshake.
#[test]
fn a_daemon_killed_under_load_keeps_its_alerts_and_delivers_what_it_owed() {
    let dir = tempfile::tempdir().unwrap();
    let hook_port = hemiwatch_tests::harness::free_port();
    let mut body = webhook_toml(&format!("http://127.0.0.1:{hook_port}/hook"));
    body += &line_toml("load", dir.path());
    body += &line_toml("faults", dir.path());
    for id in 1..=200 {
        body += &seat_toml(id, "load", None);
    }
    body += &seat_toml(201, "faults", None);
    body += &seat_toml(202, "faults", None);
    let _load = sim_line(&dir.path().join("load"), 1, 200, &[]).unwrap();
    let _faults = sim_line(
        &dir.path().join("faults"),
        201,
        2,
        &["--scenario", "sensor-fault"],
    )
    .unwrap();
    let mut daemon = Daemon::start(dir.path(), &body).unwrap();

    let firing = |d: &Daemon| -> BTreeMap<u64, Value> {
        alerts(d, "?state=firing&kind=sensor_fault")
            .into_iter()
            .filter_map(|a| Some((a["seat"].as_u64()?, a)))
            .collect()
    };
    wait_for(Duration::from_secs(20), || Ok(firing(&daemon).len() == 2))
        .unwrap_or_else(|e| panic!("sensor faults not firing: {e}\n{}", daemon.log_text()));
    let before = firing(&daemon);
    let acked_id = before[&201]["id"].as_i64().unwrap();
    let resp = client()
        .post(format!("{}/api/alerts/{acked_id}/ack", daemon.url))
        .bearer_auth(TOKEN)
        .json(&serde_json::json!({"by": "ana", "comment": "spare sensor on its way"}))
        .send()
        .unwrap();
    assert!(resp.status().is_success(), "{:?}", resp.text());

    // Under load for a moment more, then the plug is pulled.
    std::thread::sleep(Duration::from_millis(1_500));
    let killed = Instant::now();
    let killed_ms = hemiwatch::unix_ms();
    daemon.proc.kill();
    std::thread::sleep(Duration::from_secs(2));
    let hook = WebhookReceiver::start(hook_port).unwrap();
    daemon.restart().unwrap();
    let downtime = killed.elapsed();

    let after = firing(&daemon);
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        vec![&201, &202],
        "firing alerts survive: {after:#?}"
    );
    for seat in [201, 202] {
        assert_eq!(after[&seat]["id"], before[&seat]["id"], "same alert, same id");
    }
    assert_eq!(after[&201]["ack"]["by"], "ana", "{}", after[&201]);
    assert_eq!(after[&201]["ack"]["comment"], "spare sensor on its way");

    // What the first daemon owed is delivered by the second.
    wait_for(Duration::from_secs(40), || {
        let got: Vec<i64> = hook
            .bodies()
            .iter()
            .filter(|b| b["state"] == "firing")
            .filter_map(|b| b["id"].as_i64())
            .collect();
        Ok([201, 202]
            .iter()
            .all(|s| got.contains(&before[s]["id"].as_i64().unwrap_or(-1))))
    })
    .unwrap_or_else(|e| {
        panic!(
            "owed notifications not delivered: {e}: {:#?}\n{}",
            hook.bodies(),
            daemon.log_text()
        )
    });

    // The history of a loaded seat: its gap is bounded.
    let seat_heard_again = |d: &Daemon| -> anyhow::Result<bool> {
        Ok(d.seats()?[&5]["last_seen_ms"].as_u64().unwrap_or(0) > killed_ms + 1_000)
    };
    wait_for(Duration::from_secs(15), || seat_heard_again(&daemon)).unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let history = daemon
        .get(&format!(
            "/api/seats/5/history?from={}&to={}",
            killed_ms - 20_000,
            hemiwatch::unix_ms()
        ))
        .unwrap();
    let times: Vec<u64> = history["points"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["t_ms"].as_u64())
        .collect();
    let restarted_ms = killed_ms + downtime.as_millis() as u64;
    assert!(
        times.iter().any(|t| *t < killed_ms) && times.iter().any(|t| *t > restarted_ms),
        "history on both sides of the outage: {history}"
    );
    let gap = times.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
    let bound = downtime + LOSS_WINDOW + REHANDSHAKE + Duration::from_millis(2 * PERIOD_MS);
    assert!(
        Duration::from_millis(gap) <= bound,
        "history gap {gap} ms > downtime {downtime:?} + loss window + re-handshake"
    );
    eprintln!(
        "kill -9: downtime {downtime:?}, history gap {gap} ms (bound {bound:?}), {} notifications delivered after restart",
        hook.bodies().len()
    );
}
