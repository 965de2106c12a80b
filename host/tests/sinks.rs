//! The alert sinks against real receivers: a real Prometheus Alertmanager (Debian's
//! `prometheus-alertmanager`), a real HTTP server for the webhook, a real program for exec.

use std::time::Duration;

use hemiwatch::alert::{AlertState, Kind};
use hemiwatch::sink::{AlertmanagerSink, ExecSink, Notification, Sink, WebhookSink};
use hemiwatch::testkit::{wait_until, Alertmanager};
use serde_json::Value;

fn notification(state: AlertState, resolved_at_ms: Option<u64>) -> Notification {
    Notification {
        id: 42,
        kind: Kind::OverheatPredicted,
        state,
        seat: Some(214),
        label: Some("C-05-11".into()),
        sector: Some("C".into()),
        line: None,
        summary: "seat C-05-11 predicted to reach 85.0 °C in 4 min".into(),
        started_at_ms: hemiwatch::unix_ms() - 1_000,
        resolved_at_ms,
        predicted_critical_at_ms: Some(hemiwatch::unix_ms() + 240_000),
    }
}

async fn alerts(base: &str) -> Vec<Value> {
    reqwest::get(format!("{base}/api/v2/alerts"))
        .await
        .unwrap()
        .json::<Vec<Value>>()
        .await
        .unwrap()
}

#[tokio::test]
async fn alertmanager_receives_the_alert_and_its_resolution() -> anyhow::Result<()> {
    let am = tokio::task::spawn_blocking(Alertmanager::start).await??;
    let sink = Sink::Alertmanager(AlertmanagerSink::new(&am.url, Duration::from_secs(2)));
    sink.deliver(&notification(AlertState::Firing, None))
        .await
        .unwrap();
    let list = alerts(&am.url).await;
    let a = list
        .iter()
        .find(|a| a["labels"]["alertname"] == "overheat_predicted")
        .expect("alert arrived");
    assert_eq!(a["labels"]["seat"], "214");
    assert_eq!(a["labels"]["sector"], "C");
    assert_eq!(a["labels"]["severity"], "critical");
    assert_eq!(a["status"]["state"], "active");
    assert!(a["annotations"]["predicted_critical_at"].is_string());

    sink.deliver(&notification(AlertState::Resolved, Some(hemiwatch::unix_ms())))
        .await
        .unwrap();
    // Resolved alerts leave Alertmanager's active list (they are kept, but no longer active).
    wait_until(
        Duration::from_secs(10),
        "the alert no longer active after its resolution",
        || async {
            let list = alerts(&am.url).await;
            Ok(!list.iter().any(|a| {
                a["labels"]["alertname"] == "overheat_predicted" && a["status"]["state"] == "active"
            }))
        },
    )
    .await
}

#[tokio::test]
async fn webhook_posts_the_notification_as_json() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Value>(1);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(v): axum::Json<Value>| {
            let tx = tx.clone();
            async move {
                let _ = tx.send(v).await;
                "ok"
            }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let sink = Sink::Webhook(WebhookSink::new(
        format!("http://{addr}/hook"),
        Duration::from_secs(2),
    ));
    sink.deliver(&notification(AlertState::Firing, None))
        .await
        .unwrap();
    let got = rx.recv().await.unwrap();
    assert_eq!(got["kind"], "overheat_predicted");
    assert_eq!(got["seat"], 214);
    assert_eq!(got["state"], "firing");
    // A receiver that answers an error is a failed delivery (the outbox retries it).
    let bad = Sink::Webhook(WebhookSink::new(
        format!("http://{addr}/nope"),
        Duration::from_secs(2),
    ));
    assert!(bad
        .deliver(&notification(AlertState::Firing, None))
        .await
        .is_err());
}

#[tokio::test]
async fn exec_hook_gets_the_alert_in_its_environment() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("env.txt");
    let script = dir.path().join("hook.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\nenv | grep ^HEMIWATCH_ALERT_ | sort > {}\n",
            out.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let sink = Sink::Exec(ExecSink::new(script.to_str().unwrap(), Duration::from_secs(5)));
    sink.deliver(&notification(AlertState::Firing, None))
        .await
        .unwrap();
    let env = std::fs::read_to_string(&out).unwrap();
    assert!(env.contains("HEMIWATCH_ALERT_KIND=overheat_predicted"), "{env}");
    assert!(env.contains("HEMIWATCH_ALERT_SEAT=214"), "{env}");
    let failing = Sink::Exec(ExecSink::new("/bin/false", Duration::from_secs(5)));
    assert!(failing
        .deliver(&notification(AlertState::Firing, None))
        .await
        .is_err());
}

/// The hook's environment is clean: its `HEMIWATCH_ALERT_*` variables and the daemon's variables
/// the config names, nothing else of the daemon's (which may hold the API token).
#[tokio::test]
async fn exec_hook_gets_a_clean_environment() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("env.txt");
    let script = dir.path().join("hook.sh");
    std::fs::write(
        &script,
        format!("#!/bin/sh\nexec /usr/bin/env > {}\n", out.display()),
    )
    .unwrap();
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    // The test process has PATH, HOME and cargo's variables; CARGO_PKG_NAME is named.
    assert!(std::env::var_os("PATH").is_some() && std::env::var_os("CARGO_PKG_NAME").is_some());
    let sink = Sink::Exec(
        ExecSink::new(script.to_str().unwrap(), Duration::from_secs(5))
            .passing(vec!["CARGO_PKG_NAME".into(), "NOT_SET_ANYWHERE_42".into()]),
    );
    sink.deliver(&notification(AlertState::Firing, None))
        .await
        .unwrap();
    let env = std::fs::read_to_string(&out).unwrap();
    let names: Vec<&str> = env
        .lines()
        .filter_map(|l| l.split_once('=').map(|(k, _)| k))
        .collect();
    let foreign: Vec<&&str> = names
        .iter()
        // PWD is the one variable sh sets itself.
        .filter(|k| !k.starts_with("HEMIWATCH_ALERT_") && !["CARGO_PKG_NAME", "PWD"].contains(*k))
        .collect();
    assert!(foreign.is_empty(), "the hook saw {foreign:?}:\n{env}");
    assert!(env.contains("CARGO_PKG_NAME=hemiwatch\n"), "{env}");
    assert!(env.contains("HEMIWATCH_ALERT_SEAT=214\n"), "{env}");
}
