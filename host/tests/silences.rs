//! Silences end to end, in process: simulated seats on a pty → the daemon → its webhook sink,
//! with a technician's silence set through `POST /api/silences`. A silence mutes the
//! notifications of the alerts it matches and nothing else: the silenced seat is still ordered
//! into failover, the alert still shows (marked silenced), an alert still firing when the silence
//! ends is notified then, and a silence outlives a daemon restart.

use std::time::Duration;

use hemiwatch::sim::{Scenario, SimSeat};
use hemiwatch::sink::{Sink, WebhookSink};
use hemiwatch::testkit::{place, seat_key, wait_until, SettingsBuilder, TestDaemon, WebhookReceiver};
use hemiwatch_protocol::SeatId;
use serde_json::{json, Value};

const TOKEN: &str = "test-token-silence";
/// Telemetry period of the simulated seats.
const PERIOD_MS: u64 = 250;

/// Seats playing their scenario on one pty line "A", the daemon delivering to `hook`.
async fn start(seats: &[(SeatId, Scenario)], hook: &WebhookReceiver) -> TestDaemon {
    let sims = seats
        .iter()
        .map(|(id, scenario)| SimSeat::new(*id, seat_key(*id), scenario.clone(), PERIOD_MS, 5, 0))
        .collect();
    let settings = SettingsBuilder::new()
        .seats(seats.iter().map(|&(id, _)| place(id, "A", Some("A"))))
        .period_ms(PERIOD_MS)
        .token(TOKEN)
        .sink(Sink::Webhook(WebhookSink::new(
            hook.url.clone(),
            Duration::from_secs(2),
        )))
        .pty_line("A", sims);
    TestDaemon::start(settings).await.expect("daemon started")
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .expect("HTTP client")
}

/// Silences every alert of `seat` for `duration` ("1h", "4s"); returns the silence's end (unix ms).
async fn silence_seat(d: &TestDaemon, seat: SeatId, duration: &str) -> u64 {
    let resp = client()
        .post(d.url("/api/silences"))
        .bearer_auth(TOKEN)
        .json(
            &json!({"matcher": {"seat": seat}, "duration": duration, "by": "ana", "comment": "maintenance"}),
        )
        .send()
        .await
        .expect("POST /api/silences");
    let status = resp.status();
    let body: Value = resp.json().await.unwrap_or(Value::Null);
    assert_eq!(
        status,
        reqwest::StatusCode::CREATED,
        "the silence is created: {body}"
    );
    body["until_ms"]
        .as_u64()
        .unwrap_or_else(|| panic!("the created silence has an end: {body}"))
}

/// The firing notifications the webhook received for `seat`.
fn firing_for(hook: &WebhookReceiver, seat: SeatId) -> Vec<Value> {
    hook.bodies()
        .into_iter()
        .filter(|n| n["seat"] == seat && n["state"] == "firing")
        .collect()
}

/// The daemon's open alerts of `seat` (`GET /api/alerts?seat=`).
async fn alerts_of(d: &TestDaemon, seat: SeatId) -> Vec<Value> {
    let v: Value = client()
        .get(d.url(&format!("/api/alerts?seat={seat}")))
        .send()
        .await
        .expect("GET /api/alerts")
        .json()
        .await
        .expect("alerts JSON");
    v["alerts"].as_array().cloned().unwrap_or_default()
}

/// The kinds of the seat's recorded events (`GET /api/seats/{seat}/events`).
async fn event_kinds(d: &TestDaemon, seat: SeatId) -> Vec<String> {
    let v: Value = client()
        .get(d.url(&format!("/api/seats/{seat}/events?limit=100")))
        .send()
        .await
        .expect("GET events")
        .json()
        .await
        .expect("events JSON");
    v["events"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["kind"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silence_mutes_the_notification_but_never_the_failover() {
    let hook = WebhookReceiver::start(0).unwrap();
    // Seat 1 runs away from 2 s; seat 2's sensor dies at 4 s, unsilenced: its notification shows
    // the sink delivers and that the test waited long enough to see seat 1's, had there been one.
    let runaway = Scenario::Runaway {
        start_ms: 2_000,
        rate_c_per_min: 720.0,
    };
    let d = start(
        &[(1, runaway), (2, Scenario::SensorFails { at_ms: 4_000 })],
        &hook,
    )
    .await;
    let until_ms = silence_seat(&d, 1, "1h").await;

    d.wait_seats(
        Duration::from_secs(30),
        "seat 1 in failover (its telemetry shows FAILOVER_ACTIVE)",
        |s| s.place.id != 1 || s.flags.iter().any(|f| f == "failover_active"),
    )
    .await
    .unwrap();
    // At 12 °C/s the seat's own trip (three conversions) may put it in safe mode before the
    // critical tier's dwell (5 s) has passed: the order and its acknowledgement follow.
    let ordered =
        wait_until(
            Duration::from_secs(15),
            "the silenced seat ordered into failover and acknowledging it",
            || async {
                let events = event_kinds(&d, 1).await;
                Ok(events.iter().any(|k| k == "failover_ordered")
                    && events.iter().any(|k| k == "failover_acked"))
            },
        )
        .await;
    if let Err(e) = ordered {
        panic!(
            "{e}: seat 1's events {:?}, its alerts {:#?}",
            event_kinds(&d, 1).await,
            alerts_of(&d, 1).await
        );
    }
    assert!(
        hemiwatch::unix_ms() < until_ms,
        "the silence was still on when the seat failed over"
    );
    wait_until(
        Duration::from_secs(10),
        "seat 2's unsilenced sensor_fault notified",
        || async { Ok(!firing_for(&hook, 2).is_empty()) },
    )
    .await
    .unwrap();
    // The outbox delivers within milliseconds (see the latency bench); a second more is ample.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let alerts = alerts_of(&d, 1).await;
    assert!(
        alerts
            .iter()
            .any(|a| a["kind"].as_str().is_some_and(|k| k.starts_with("overheat")))
            && alerts.iter().all(|a| a["silenced"] == true),
        "seat 1's overheat alert is open, and every alert of seat 1 is shown silenced: {alerts:?}"
    );
    assert_eq!(
        firing_for(&hook, 1),
        Vec::<Value>::new(),
        "nothing is notified of the silenced seat"
    );
    d.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_still_firing_when_its_silence_ends_is_notified_then() {
    let hook = WebhookReceiver::start(0).unwrap();
    let d = start(&[(1, Scenario::SensorFails { at_ms: 1_000 })], &hook).await;
    let until_ms = silence_seat(&d, 1, "4s").await;

    wait_until(
        Duration::from_secs(10),
        "seat 1's sensor_fault open and silenced",
        || async {
            Ok(alerts_of(&d, 1)
                .await
                .iter()
                .any(|a| a["kind"] == "sensor_fault" && a["state"] == "firing" && a["silenced"] == true))
        },
    )
    .await
    .unwrap();
    assert_eq!(
        firing_for(&hook, 1),
        Vec::<Value>::new(),
        "nothing notified while the silence is on"
    );
    wait_until(
        Duration::from_secs(10),
        "seat 1's sensor_fault notified once the silence ended",
        || async { Ok(!firing_for(&hook, 1).is_empty()) },
    )
    .await
    .unwrap();
    let now = hemiwatch::unix_ms();
    assert!(
        now >= until_ms,
        "notified {} ms before the silence ended",
        until_ms - now
    );
    let alerts = alerts_of(&d, 1).await;
    assert!(
        alerts
            .iter()
            .any(|a| a["kind"] == "sensor_fault" && a["silenced"] == false),
        "the alert is no longer shown silenced: {alerts:?}"
    );
    d.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silence_survives_a_daemon_restart() {
    let hook = WebhookReceiver::start(0).unwrap();
    // Both sensors die well after the restart: the alerts are raised by the restarted daemon,
    // which knows of the silence only from its database.
    let mut d = start(
        &[
            (1, Scenario::SensorFails { at_ms: 7_000 }),
            (2, Scenario::SensorFails { at_ms: 7_000 }),
        ],
        &hook,
    )
    .await;
    silence_seat(&d, 1, "1h").await;
    d.restart().await.unwrap();
    assert!(
        alerts_of(&d, 1).await.is_empty() && alerts_of(&d, 2).await.is_empty(),
        "the sensors failed before the restart was done: the test proves nothing"
    );

    wait_until(
        Duration::from_secs(15),
        "seat 2's unsilenced sensor_fault notified",
        || async { Ok(!firing_for(&hook, 2).is_empty()) },
    )
    .await
    .unwrap();
    wait_until(Duration::from_secs(5), "seat 1's sensor_fault open", || async {
        Ok(!alerts_of(&d, 1).await.is_empty())
    })
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let alerts = alerts_of(&d, 1).await;
    assert!(
        alerts
            .iter()
            .any(|a| a["kind"] == "sensor_fault" && a["silenced"] == true),
        "the restarted daemon shows seat 1's alert silenced: {alerts:?}"
    );
    assert_eq!(
        firing_for(&hook, 1),
        Vec::<Value>::new(),
        "the silence set before the restart still mutes seat 1"
    );
    d.stop().await.unwrap();
}
