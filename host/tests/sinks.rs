//! The alert sinks against real receivers: a real Prometheus Alertmanager (Debian's
//! `prometheus-alertmanager`), a real HTTP server for the webhook, a real program for exec.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use hemiwatch::alert::{AlertState, Kind};
use hemiwatch::sink::{AlertmanagerSink, ExecSink, Notification, Sink, WebhookSink};
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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Alertmanager {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_alertmanager() -> Alertmanager {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("am.yml");
    std::fs::write(
        &cfg,
        "route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n",
    )
    .unwrap();
    let port = free_port();
    let child = Command::new("prometheus-alertmanager")
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!("--storage.path={}", dir.path().join("data").display()))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus-alertmanager is installed by scripts/setup.sh");
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = reqwest::get(format!("{base}/-/ready")).await {
            if r.status().is_success() {
                break;
            }
        }
        assert!(Instant::now() < deadline, "alertmanager did not become ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Alertmanager {
        child,
        base,
        _dir: dir,
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
async fn alertmanager_receives_the_alert_and_its_resolution() {
    let am = start_alertmanager().await;
    let sink = Sink::Alertmanager(AlertmanagerSink::new(&am.base, Duration::from_secs(2)));
    sink.deliver(&notification(AlertState::Firing, None))
        .await
        .unwrap();
    let list = alerts(&am.base).await;
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
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let list = alerts(&am.base).await;
        let active = list
            .iter()
            .any(|a| a["labels"]["alertname"] == "overheat_predicted" && a["status"]["state"] == "active");
        if !active {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "alert still active after resolution: {list:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
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
