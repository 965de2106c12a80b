//! A database that cannot grow (SQLite's `max_page_count` capped at its current size: what a full
//! disk looks like to the writer) must not silence the monitor: the outage is an alert, an
//! overheat during it still reaches the webhook, and what was acknowledged meanwhile is written
//! once space returns and survives a restart.

use std::time::Duration;

use hemiwatch::alert::{AlertState, Kind};
use hemiwatch::sim::{Scenario, SimSeat};
use hemiwatch::sink::{AlertmanagerSink, Sink, WebhookSink};
use hemiwatch::testkit::{
    place, seat_key, wait_until, Alertmanager, SettingsBuilder, TestDaemon, WebhookReceiver,
};
use serde_json::Value;

const TOKEN: &str = "t0ken";

/// The open alert of `kind` in the live model, if any.
fn open_alert(d: &TestDaemon, kind: Kind) -> Option<hemiwatch::model::AlertView> {
    let m = d.live().model.read().unwrap();
    m.alerts
        .values()
        .find(|a| a.kind == kind && a.state.is_open())
        .cloned()
}

fn received(hook: &WebhookReceiver, kind: &str, state: &str) -> bool {
    hook.bodies()
        .iter()
        .any(|b: &Value| b["kind"] == kind && b["state"] == state)
}

async fn get_json(url: &str) -> Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

async fn get_text(url: &str) -> String {
    reqwest::get(url).await.unwrap().text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_is_an_alert_and_an_overheat_still_reaches_the_webhook() -> anyhow::Result<()> {
    let hook = tokio::task::spawn_blocking(|| WebhookReceiver::start(0)).await??;
    let am = std::sync::Arc::new(tokio::task::spawn_blocking(Alertmanager::start).await??);
    // Seat 1 runs away from 1 s; fifteen steady neighbours fill pages fast enough that the
    // capped file needs a new one within a second or two.
    let seats: Vec<SimSeat> = (1..=16)
        .map(|id| {
            let scenario = if id == 1 {
                Scenario::Runaway {
                    start_ms: 1_000,
                    rate_c_per_min: 600.0,
                }
            } else {
                Scenario::Steady
            };
            SimSeat::new(id, seat_key(id), scenario, 250, 11 + u64::from(id), 0)
        })
        .collect();
    let builder = SettingsBuilder::new()
        .seats((1..=16).map(|id| place(id, "A", Some("a"))))
        .period_ms(250)
        .token(TOKEN)
        .flush_interval(Duration::from_millis(200))
        .sink(Sink::Webhook(WebhookSink::new(&hook.url, Duration::from_secs(2))))
        .sink(Sink::Alertmanager(AlertmanagerSink::new(
            &am.url,
            Duration::from_secs(2),
        )))
        .pty_line("a", seats);
    let mut d = TestDaemon::start(builder).await?;
    // The disk is full: the file may not grow by a page.
    d.running.storage.set_writer_pragma("max_page_count", 1)?;

    wait_until(Duration::from_secs(20), "storage_failing firing", || async {
        Ok(open_alert(&d, Kind::StorageFailing).is_some_and(|a| a.state == AlertState::Firing))
    })
    .await?;
    wait_until(Duration::from_secs(10), "storage_failing delivered", || async {
        Ok(received(&hook, "storage_failing", "firing"))
    })
    .await?;
    let status = get_json(&d.url("/api/status")).await;
    assert_eq!(status["storage"]["failing"], true, "{status}");
    assert!(
        status["storage"]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("full")),
        "{status}"
    );
    let metrics = get_text(&d.url("/metrics")).await;
    assert!(metrics.contains("\nhemiwatch_storage_failing 1\n"), "{metrics}");
    // A nearly full disk still lets a small commit through now and then (and with it what was
    // kept); a full one lets nothing through: from here on every write is refused, so what the
    // webhook gets comes from memory.
    d.running.storage.set_writer_pragma("query_only", 1)?;

    // Seat 1 overheats during the outage: the webhook still hears of it.
    wait_until(Duration::from_secs(30), "the overheat delivered", || async {
        Ok(received(&hook, "overheat_predicted", "firing") || received(&hook, "overheat", "firing"))
    })
    .await?;
    // A real Alertmanager too.
    wait_until(Duration::from_secs(10), "the overheat in Alertmanager", || {
        let am = am.clone();
        async move {
            let alerts = tokio::task::spawn_blocking(move || am.alerts()).await??;
            Ok(alerts.iter().any(|a| {
                let name = &a["labels"]["alertname"];
                name == "overheat_predicted" || name == "overheat"
            }))
        }
    })
    .await?;
    let overheat = open_alert(&d, Kind::OverheatPredicted)
        .or_else(|| open_alert(&d, Kind::Overheat))
        .expect("an overheat alert is open");
    // Someone acknowledges it while nothing can be written.
    let resp = reqwest::Client::new()
        .post(d.url(&format!("/api/alerts/{}/ack", overheat.id)))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(r#"{"by":"ana","comment":"fan swapped"}"#)
        .send()
        .await?;
    // Accepted, not claimed committed: it is applied and kept in memory until space returns.
    assert_eq!(
        resp.status(),
        reqwest::StatusCode::ACCEPTED,
        "an ack during the outage: {:?}",
        resp.text().await
    );

    // Space returns: the outage resolves and its resolution is delivered.
    d.running.storage.set_writer_pragma("query_only", 0)?;
    d.running.storage.set_writer_pragma("max_page_count", 1 << 30)?;
    wait_until(Duration::from_secs(10), "storage_failing resolved", || async {
        Ok(open_alert(&d, Kind::StorageFailing).is_none())
    })
    .await?;
    wait_until(
        Duration::from_secs(10),
        "storage_failing resolution delivered",
        || async { Ok(received(&hook, "storage_failing", "resolved")) },
    )
    .await?;
    let status = get_json(&d.url("/api/status")).await;
    assert_eq!(status["storage"]["failing"], false, "{status}");
    assert_eq!(status["storage"]["kept_records"], 0, "{status}");

    // Nothing acknowledged was lost: after a restart the alert comes back with its ack.
    d.restart().await?;
    let restored = {
        let m = d.live().model.read().unwrap();
        m.alerts.get(&overheat.id).cloned()
    };
    let restored = restored.expect("the overheat alert was written once space returned");
    let ack = restored.ack.expect("its acknowledgement was written");
    assert_eq!(ack.by, "ana");
    // The notifications delivered from memory were written as delivered: none is owed again.
    let outbox = d.running.storage.outbox()?;
    wait_until(Duration::from_secs(5), "nothing owed", || async {
        Ok(outbox.pending()? == 0)
    })
    .await?;
    let firing = hook
        .bodies()
        .iter()
        .filter(|b| b["id"] == overheat.id && b["state"] == "firing")
        .count();
    assert_eq!(firing, 1, "the overheat was delivered again after the restart");
    d.stop().await
}
