//! The HTTP face of a real daemon: simulated seats on real ptys → the daemon (lines, state task,
//! SQLite storage) → its HTTP server on a loopback port, exercised with a real HTTP client.
//! Covers every endpoint, the 400/401/404 answers, SSE delivering a seat change (and to 50
//! clients at once, with latency printed), `/metrics` accepted by `promtool`, and the size of
//! the dashboard's first load.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use hemiwatch::model::{LiveModel, SeatPlace, SeatStatus, Update};
use hemiwatch::sim::{Scenario, SimSeat};
use hemiwatch::testkit::{seat_key, SettingsBuilder, TestDaemon};
use hemiwatch_protocol::SeatId;
use reqwest::StatusCode;
use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "test-token-5f1c";
/// Telemetry period of the simulated seats.
const PERIOD_MS: u64 = 250;

/// The embedded default hemicycle's shape: 8 sectors, 12 rows growing outward, 577 seats, ids
/// sector by sector, row by row. `rows` keeps only the innermost rows (smaller, faster tests).
fn hemicycle(rows: usize) -> Vec<SeatPlace> {
    const ROW_SEATS: [u16; 12] = [32, 35, 38, 41, 44, 47, 50, 53, 56, 59, 60, 62];
    const SECTORS: [&str; 8] = ["A", "B", "C", "D", "E", "F", "G", "H"];
    let mut out = Vec::new();
    let mut id: SeatId = 1;
    for (k, sector) in SECTORS.iter().enumerate() {
        for (r, n) in ROW_SEATS.iter().take(rows).enumerate() {
            let per = n / 8 + u16::from((k as u16) < n % 8);
            for p in 1..=per {
                out.push(SeatPlace {
                    id,
                    label: format!("{sector}-{:02}-{p:02}", r + 1),
                    sector: (*sector).into(),
                    row: r as u16 + 1,
                    position: p,
                    line: Some(format!("sector-{}", sector.to_lowercase())),
                });
                id += 1;
            }
        }
    }
    out
}

/// Simulated seats at `places` on one pty per sector, every seat playing `scenario(id)` at
/// [`PERIOD_MS`], and the daemon watching them with warn at `warn_c` (HTTP on 127.0.0.1:0).
async fn start(places: Vec<SeatPlace>, scenario: impl Fn(SeatId) -> Scenario, warn_c: f64) -> TestDaemon {
    let mut by_line: BTreeMap<String, Vec<SimSeat>> = BTreeMap::new();
    for p in &places {
        let line = p.line.clone().unwrap();
        by_line.entry(line).or_default().push(SimSeat::new(
            p.id,
            seat_key(p.id),
            scenario(p.id),
            PERIOD_MS,
            11,
            0,
        ));
    }
    let settings = by_line.into_iter().fold(
        SettingsBuilder::new()
            .seats(places)
            .warn_c(warn_c)
            .period_ms(PERIOD_MS)
            .token(TOKEN)
            .flush_interval(Duration::from_millis(200)),
        |b, (name, seats)| b.pty_line(&name, seats),
    );
    TestDaemon::start(settings).await.expect("daemon started")
}

/// Waits until every seat has sent telemetry and is `ok`.
async fn all_heard(d: &TestDaemon) {
    d.wait_seats(Duration::from_secs(20), "every seat heard", |s| {
        s.status == SeatStatus::Ok
    })
    .await
    .unwrap();
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// GET returning status and JSON (Null if not JSON).
async fn get(base: &str, path: &str) -> (StatusCode, Value) {
    let r = client().get(format!("{base}{path}")).send().await.unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// Asserts a 4xx answer carries a JSON error mentioning `needle`.
fn assert_error(answer: &(StatusCode, Value), status: StatusCode, needle: &str) {
    assert_eq!(answer.0, status, "answer: {}", answer.1);
    let msg = answer.1["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no JSON error in {}", answer.1));
    assert!(
        msg.to_lowercase().contains(&needle.to_lowercase()),
        "error {msg:?} should mention {needle:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_endpoints_answer_and_refuse_bad_input() {
    let d = start(hemicycle(2), |_| Scenario::Steady, 70.0).await;
    let n = d.live().model.read().unwrap().seats.len();
    all_heard(&d).await;
    let b = &d.base;

    let (s, all) = get(b, "/api/seats").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(all["seats"].as_array().unwrap().len(), n);
    assert_eq!(all["counts"]["ok"].as_u64(), Some(n as u64));
    let total: u64 = all["counts"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(total, n as u64);

    let (_, a) = get(b, "/api/seats?sector=A").await;
    let a = a["seats"].as_array().unwrap();
    assert!(!a.is_empty() && a.iter().all(|s| s["sector"] == "A"));
    let (_, warm) = get(b, "/api/seats?status=warm").await;
    assert_eq!(warm["seats"].as_array().unwrap().len(), 0);
    assert_error(
        &get(b, "/api/seats?status=boiling").await,
        StatusCode::BAD_REQUEST,
        "boiling",
    );
    assert_error(
        &get(b, "/api/seats?colour=red").await,
        StatusCode::BAD_REQUEST,
        "colour",
    );

    let (s, one) = get(b, "/api/seats/1").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(one["id"], 1);
    assert_eq!(one["label"], "A-01-01");
    assert_eq!(one["status"], "ok");
    assert_eq!(one["firmware"].as_str().map(|f| f.split('.').count()), Some(3));
    assert!(one["counters"]["frames"].as_u64().unwrap() > 0);
    assert_error(&get(b, "/api/seats/9999").await, StatusCode::NOT_FOUND, "9999");
    assert_error(&get(b, "/api/seats/abc").await, StatusCode::BAD_REQUEST, "path");
    assert_error(&get(b, "/api/seats/70000").await, StatusCode::BAD_REQUEST, "path");

    // History comes from SQLite: samples are committed every 200 ms.
    let deadline = Instant::now() + Duration::from_secs(10);
    let points = loop {
        let (s, h) = get(b, "/api/seats/1/history").await;
        assert_eq!(s, StatusCode::OK, "{h}");
        let points = h["points"].as_array().unwrap().clone();
        if points.len() >= 3 {
            break points;
        }
        assert!(Instant::now() < deadline, "no history after 10 s: {h}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let t = points[0]["mean_c"].as_f64().unwrap();
    assert!((25.0..50.0).contains(&t), "implausible temperature {t}");
    assert!(points
        .windows(2)
        .all(|w| w[0]["t_ms"].as_u64() <= w[1]["t_ms"].as_u64()));
    let now = hemiwatch::unix_ms();
    let (s, h) = get(
        b,
        &format!(
            "/api/seats/1/history?from={}&to={}",
            now - 3_600_000,
            now - 1_800_000
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        h["points"].as_array().unwrap().len(),
        0,
        "nothing before the daemon started"
    );
    assert_error(
        &get(b, "/api/seats/1/history?from=10&to=5").await,
        StatusCode::BAD_REQUEST,
        "after",
    );
    assert_error(
        &get(b, "/api/seats/1/history?from=yesterday").await,
        StatusCode::BAD_REQUEST,
        "query",
    );
    assert_error(
        &get(b, "/api/seats/1/history?from=0&to=99999999999").await,
        StatusCode::BAD_REQUEST,
        "31 days",
    );
    assert_error(
        &get(b, "/api/seats/9999/history").await,
        StatusCode::NOT_FOUND,
        "9999",
    );

    let (s, ev) = get(b, "/api/seats/1/events?limit=5").await;
    assert_eq!(s, StatusCode::OK, "{ev}");
    assert!(ev["events"].is_array());
    assert_error(
        &get(b, "/api/seats/1/events?limit=0").await,
        StatusCode::BAD_REQUEST,
        "limit",
    );

    let (s, al) = get(b, "/api/alerts").await;
    assert_eq!(s, StatusCode::OK);
    assert!(al["alerts"].is_array());
    let (s, _) = get(b, "/api/alerts?state=open&sector=B").await;
    assert_eq!(s, StatusCode::OK);
    assert_error(
        &get(b, "/api/alerts?state=burning").await,
        StatusCode::BAD_REQUEST,
        "burning",
    );

    let (s, st) = get(b, "/api/status").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(st["seats"].as_u64(), Some(n as u64));
    let lines = st["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 8);
    assert!(lines
        .iter()
        .all(|l| l["up"] == true && l["frames"].as_u64().unwrap() > 0));

    assert_error(
        &get(b, "/api/nothing-here").await,
        StatusCode::NOT_FOUND,
        "/api/nothing-here",
    );
    d.stop().await.unwrap();
}

async fn post(
    base: &str,
    path: &str,
    token: Option<&str>,
    body: &str,
) -> (StatusCode, Value, reqwest::header::HeaderMap) {
    let mut r = client()
        .post(format!("{base}{path}"))
        .header("content-type", "application/json")
        .body(body.to_string());
    if let Some(t) = token {
        r = r.bearer_auth(t);
    }
    let r = r.send().await.unwrap();
    let (s, h) = (r.status(), r.headers().clone());
    (s, r.json().await.unwrap_or(Value::Null), h)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_need_the_token_and_valid_input() {
    let d = start(hemicycle(1), |_| Scenario::Steady, 70.0).await;
    let b = &d.base;
    let before = get(b, "/api/alerts").await.1;
    let ack = r#"{"by":"ana","comment":"on it"}"#;

    let (s, e, h) = post(b, "/api/alerts/1/ack", None, ack).await;
    assert_error(&(s, e), StatusCode::UNAUTHORIZED, "bearer");
    assert!(h.get("www-authenticate").is_some());
    let (s, e, _) = post(b, "/api/alerts/1/ack", Some("wrong-token"), ack).await;
    assert_error(&(s, e), StatusCode::UNAUTHORIZED, "wrong");
    // The token is checked before the body: a bad body without a token is still a 401.
    let (s, e, _) = post(b, "/api/alerts/1/ack", None, "{not json").await;
    assert_error(&(s, e), StatusCode::UNAUTHORIZED, "bearer");
    let silence = r#"{"matcher":{"seat":1},"duration":"1h","by":"ana","comment":"maintenance"}"#;
    let (s, e, _) = post(b, "/api/silences", None, silence).await;
    assert_error(&(s, e), StatusCode::UNAUTHORIZED, "bearer");
    let (s, e, _) = post(b, "/api/silences", Some("Bearer nope"), silence).await;
    assert_error(&(s, e), StatusCode::UNAUTHORIZED, "wrong");
    assert_eq!(
        get(b, "/api/alerts").await.1,
        before,
        "a refused write changed nothing"
    );

    // With the token: input is validated, unknown alerts are 404. Each refusal: path, body,
    // status, and a word the error must contain.
    let refused: [(&str, &str, StatusCode, &str); 11] = [
        ("/api/alerts/999999/ack", ack, StatusCode::NOT_FOUND, "999999"),
        ("/api/alerts/abc/ack", ack, StatusCode::BAD_REQUEST, "path"),
        ("/api/alerts/1/ack", "{not json", StatusCode::BAD_REQUEST, "json"),
        (
            "/api/alerts/1/ack",
            r#"{"comment":"x"}"#,
            StatusCode::BAD_REQUEST,
            "by",
        ),
        (
            "/api/alerts/1/ack",
            r#"{"by":"  "}"#,
            StatusCode::BAD_REQUEST,
            "by",
        ),
        (
            "/api/silences",
            r#"{"matcher":{},"duration":"1h","by":"ana"}"#,
            StatusCode::BAD_REQUEST,
            "empty",
        ),
        (
            "/api/silences",
            r#"{"matcher":{"seat":1},"duration":"soon","by":"ana"}"#,
            StatusCode::BAD_REQUEST,
            "duration",
        ),
        (
            "/api/silences",
            r#"{"matcher":{"seat":1},"duration":"1h","until_ms":1,"by":"ana"}"#,
            StatusCode::BAD_REQUEST,
            "exactly one",
        ),
        (
            "/api/silences",
            r#"{"matcher":{"seat":9999},"duration":"1h","by":"ana"}"#,
            StatusCode::BAD_REQUEST,
            "9999",
        ),
        (
            "/api/silences",
            r#"{"matcher":{"rack":1},"duration":"1h","by":"ana"}"#,
            StatusCode::BAD_REQUEST,
            "rack",
        ),
        (
            "/api/silences",
            r#"{"matcher":{"seat":1},"until_ms":1000,"by":"ana"}"#,
            StatusCode::BAD_REQUEST,
            "past",
        ),
    ];
    for (path, body, status, needle) in refused {
        let (s, e, _) = post(b, path, Some(TOKEN), body).await;
        assert_error(&(s, e), status, needle);
    }

    // A valid silence is created (its effect on notifications: tests/silences.rs).
    let (s, body, _) = post(b, "/api/silences", Some(TOKEN), silence).await;
    assert_eq!(s, StatusCode::CREATED, "a valid silence is created: {body}");
    assert!(body["id"].as_i64().is_some(), "{body}");
    assert!(body["until_ms"].as_u64().unwrap() > hemiwatch::unix_ms());
    d.stop().await.unwrap();
}

/// Reads SSE `data:` payloads from a streaming response into a channel, stamped on arrival.
fn sse_reader(resp: reqwest::Response) -> mpsc::UnboundedReceiver<(Instant, Value)> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut resp = resp;
        let mut buf = String::new();
        while let Ok(Some(chunk)) = resp.chunk().await {
            buf.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buf.find("\n\n") {
                let event: String = buf.drain(..end + 2).collect();
                let data: String = event
                    .lines()
                    .filter_map(|l| l.strip_prefix("data:"))
                    .map(|d| d.strip_prefix(' ').unwrap_or(d))
                    .collect();
                if data.is_empty() {
                    continue;
                }
                if let Ok(v) = serde_json::from_str(&data) {
                    if tx.send((Instant::now(), v)).is_err() {
                        return;
                    }
                }
            }
        }
    });
    rx
}

async fn open_sse(base: &str, query: &str) -> mpsc::UnboundedReceiver<(Instant, Value)> {
    let resp = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("{base}/api/events{query}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    sse_reader(resp)
}

/// Seat 1 heats fast from 3 s; warn at 45 °C makes it turn `warm` a few seconds later.
fn runaway(id: SeatId) -> Scenario {
    if id == 1 {
        Scenario::Runaway {
            start_ms: 3_000,
            rate_c_per_min: 240.0,
        }
    } else {
        Scenario::Steady
    }
}

async fn next_sse(
    rx: &mut mpsc::UnboundedReceiver<(Instant, Value)>,
    what: &str,
    f: impl Fn(&Value) -> bool,
) -> (Instant, Value) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some((t, v))) if f(&v) => return (t, v),
            Ok(Some(_)) => {}
            Ok(None) => panic!("SSE stream ended while waiting for {what}"),
            Err(_) => panic!("no {what} within 30 s"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_sends_a_snapshot_then_seat_changes() {
    let d = start(hemicycle(1), runaway, 45.0).await;
    let n = d.live().model.read().unwrap().seats.len();
    let mut brief = open_sse(&d.base, "").await;
    let mut full = open_sse(&d.base, "?full=true").await;
    let (_, snap) = next_sse(&mut brief, "snapshot", |v| v["type"] == "snapshot").await;
    assert_eq!(snap["seats"].as_array().unwrap().len(), n);
    assert!(snap["alerts"].is_array());
    let (_, snap_full) = next_sse(&mut full, "full snapshot", |v| v["type"] == "snapshot").await;
    assert_eq!(snap_full["seats"][0]["label"], "A-01-01");

    let (_, warm) = next_sse(&mut brief, "seat 1 turning warm", |v| {
        v["type"] == "seat" && v["id"] == 1 && v["status"] == "warm"
    })
    .await;
    assert!(warm["temp_c"].as_f64().unwrap() >= 45.0, "{warm}");
    let (_, warm_full) = next_sse(&mut full, "seat 1 turning warm (full)", |v| {
        v["type"] == "seat" && v["id"] == 1 && v["status"] == "warm"
    })
    .await;
    assert_eq!(warm_full["label"], "A-01-01");
    assert!(warm_full["counters"]["frames"].as_u64().unwrap() > 0);

    assert_error(
        &get(&d.base, "/api/events?full=maybe").await,
        StatusCode::BAD_REQUEST,
        "query",
    );
    d.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_reaches_fifty_clients() {
    const CLIENTS: usize = 50;
    let d = start(hemicycle(1), runaway, 45.0).await;
    let mut published = d.live().updates.subscribe();
    let mut clients = Vec::new();
    for _ in 0..CLIENTS {
        clients.push(open_sse(&d.base, "").await);
    }
    for c in &mut clients {
        next_sse(c, "snapshot", |v| v["type"] == "snapshot").await;
    }
    // When the state task published seat 1 turning warm…
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let t0 = loop {
        match tokio::time::timeout_at(deadline, published.recv()).await {
            Ok(Ok(Update::Seat(s))) if s.place.id == 1 && s.status == SeatStatus::Warm => {
                break Instant::now()
            }
            Ok(Ok(_)) | Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
            other => panic!("no warm update for seat 1 within 30 s: {other:?}"),
        }
    };
    // …and when each client had it.
    let mut lat = Vec::new();
    for c in &mut clients {
        let (t, _) = next_sse(c, "seat 1 warm", |v| {
            v["type"] == "seat" && v["id"] == 1 && v["status"] == "warm"
        })
        .await;
        lat.push(t.saturating_duration_since(t0));
    }
    lat.sort();
    assert_eq!(lat.len(), CLIENTS);
    println!(
        "SSE, {CLIENTS} clients, one seat change: all received; latency p50 {:?}, p95 {:?}, max {:?}",
        lat[CLIENTS / 2],
        lat[CLIENTS * 95 / 100],
        lat[CLIENTS - 1]
    );
    assert!(
        lat[CLIENTS - 1] < Duration::from_secs(1),
        "slowest client {:?}",
        lat[CLIENTS - 1]
    );
    let metrics = client()
        .get(format!("{}/metrics", d.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!("hemiwatch_sse_clients {}", CLIENTS)),
        "sse_clients gauge should count the {CLIENTS} clients"
    );
    drop(clients);
    d.stop().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_pass_promtool() {
    let d = start(hemicycle(2), |_| Scenario::Steady, 70.0).await;
    all_heard(&d).await;
    let r = client().get(format!("{}/metrics", d.base)).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let ct = r.headers()["content-type"].to_str().unwrap().to_string();
    assert!(ct.starts_with("text/plain; version=0.0.4"), "{ct}");
    let text = r.text().await.unwrap();
    // Prometheus asks for OpenMetrics and gets it.
    let om = client()
        .get(format!("{}/metrics", d.base))
        .header(
            "accept",
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        )
        .send()
        .await
        .unwrap();
    assert!(om.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let om = om.text().await.unwrap();
    assert!(om.trim_end().ends_with("# EOF"));
    assert!(om.contains("# TYPE hemiwatch_line_frames counter"));
    assert!(
        text.contains(r#"hemiwatch_seat_temperature_celsius{seat="1",sector="A"}"#),
        "{text}"
    );
    assert!(text.contains(r#"hemiwatch_seats{status="ok"}"#));
    assert!(text.contains(r#"hemiwatch_alerts_firing{kind="overheat_predicted",severity="critical"} 0"#));
    assert!(text.contains("# TYPE hemiwatch_detector_seconds histogram"));
    assert!(text.contains("# TYPE hemiwatch_storage_commit_seconds histogram"));
    assert!(text.contains("hemiwatch_storage_commits_total"));
    assert!(text.contains("hemiwatch_storage_commit_time_seconds_total"));
    let frames: u64 = text
        .lines()
        .find(|l| l.starts_with(r#"hemiwatch_line_frames_total{line="sector-a"}"#))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .expect("frames of line sector-a");
    assert!(frames > 0);
    assert!(text.contains("# TYPE hemiwatch_line_frames_total counter"));

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("scrape.txt");
    std::fs::write(&file, &text).unwrap();
    let out = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::fs::File::open(&file).unwrap())
        .output()
        .expect("promtool is installed (scripts/setup.sh installs prometheus)");
    assert!(
        out.status.success(),
        "promtool check metrics failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    d.stop().await.unwrap();
}

/// Bytes on the wire of a GET (body as sent, compressed when the client accepts gzip).
async fn wire_bytes(base: &str, path: &str) -> (usize, String) {
    let r = client()
        .get(format!("{base}{path}"))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "{path}");
    let enc = r
        .headers()
        .get("content-encoding")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let headers: usize = r
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len() + 4)
        .sum();
    let body = r.bytes().await.unwrap();
    (headers + body.len(), enc)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_is_embedded_and_its_first_load_is_under_200_kb() {
    const BUDGET: usize = 200 * 1024;
    assert!(
        hemiwatch::http::first_load_bytes() <= BUDGET,
        "embedded assets alone are {} bytes",
        hemiwatch::http::first_load_bytes()
    );
    let d = start(hemicycle(12), |_| Scenario::Steady, 70.0).await;
    assert_eq!(d.live().model.read().unwrap().seats.len(), 577);
    let html = client().get(&d.base).send().await.unwrap();
    assert_eq!(html.headers()["content-type"], "text/html; charset=utf-8");
    let etag = html.headers()["etag"].to_str().unwrap().to_string();
    let csp = html.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("default-src 'self'"), "{csp}");
    let html = html.text().await.unwrap();
    for a in hemiwatch::http::ASSETS.iter().skip(1) {
        assert!(
            html.contains(&format!("/assets/{}", a.name)),
            "index.html must reference {}",
            a.name
        );
        let r = client()
            .get(format!("{}/assets/{}", d.base, a.name))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()["content-type"], a.content_type);
        assert_eq!(r.bytes().await.unwrap().len(), a.body.len());
    }
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no external resources"
    );
    let r = client()
        .get(&d.base)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    assert_error(
        &get(&d.base, "/assets/nope.js").await,
        StatusCode::NOT_FOUND,
        "nope.js",
    );

    // What a browser transfers on a first load: the page, its assets, the seat list (gzip), and
    // the first SSE event (the snapshot; SSE is not compressed).
    all_heard(&d).await;
    let mut total = 0;
    for path in [
        "/",
        "/assets/app.css",
        "/assets/app.js",
        "/assets/favicon.svg",
        "/api/seats",
    ] {
        let (n, enc) = wire_bytes(&d.base, path).await;
        println!(
            "first load: {path:<20} {n:>7} bytes on the wire ({})",
            if enc.is_empty() { "identity" } else { &enc }
        );
        if path == "/api/seats" || path == "/assets/app.js" {
            assert_eq!(enc, "gzip", "{path} should be compressed");
        }
        total += n;
    }
    let mut sse = open_sse(&d.base, "").await;
    let (_, snap) = next_sse(&mut sse, "snapshot", |v| v["type"] == "snapshot").await;
    let snap_bytes = serde_json::to_string(&snap).unwrap().len() + 8;
    println!(
        "first load: {:<20} {snap_bytes:>7} bytes (SSE snapshot, 577 seats)",
        "/api/events"
    );
    total += snap_bytes;
    println!(
        "first load total: {total} bytes ({:.1} KB of the 200 KB budget)",
        total as f64 / 1024.0
    );
    assert!(total <= BUDGET, "first load transfers {total} bytes");
    d.stop().await.unwrap();
}

/// The HTTP layer's side of the contract with the state task, with the test answering requests
/// the way the state task does (the real one, end to end: tests/silences.rs and
/// tests/tests/commit.rs of the workspace): a successful ack and silence are relayed
/// with exactly what the client sent, a gone state task is a 503, and an SSE client that falls
/// behind the broadcast buffer gets a fresh snapshot instead of being dropped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_layer_relays_requests_and_resyncs_lagging_clients() {
    use hemiwatch::model::{AckView, AlertView, Hemicycle, Request, SeatState};
    use std::sync::{Arc, RwLock};

    let mut model = Hemicycle::default();
    for place in hemicycle(1).into_iter().take(4) {
        model.seats.insert(place.id, SeatState::new(place));
    }
    let alert = AlertView {
        id: 7,
        kind: hemiwatch::alert::Kind::OverheatPredicted,
        seat: Some(2),
        line: None,
        sector: Some("A".into()),
        state: hemiwatch::alert::AlertState::Firing,
        started_at_ms: 1,
        updated_at_ms: 1,
        predicted_critical_at_ms: Some(2),
        summary: "seat A-01-02 will reach 85 °C".into(),
        ack: None,
        silenced: false,
    };
    model.alerts.insert(7, alert.clone());
    // A tiny broadcast buffer, so a client that does not read falls behind at once.
    let (updates, _) = tokio::sync::broadcast::channel(2);
    let (requests, mut requests_rx) = mpsc::channel(8);
    let live = LiveModel {
        model: Arc::new(RwLock::new(model)),
        updates,
        requests,
    };
    let shutdown = CancellationToken::new();
    let state = hemiwatch::http::HttpState {
        live: live.clone(),
        lines: Vec::new(),
        api_token: Some(TOKEN.into()),
        history: None,
        metrics: Arc::new(hemiwatch::metrics::Metrics::new()),
        storage_counters: None,
        outbox_counters: None,
        shutdown: shutdown.clone(),
        guard: hemiwatch::http::HttpGuard::new(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(hemiwatch::http::serve(listener, state, shutdown.clone()));

    // The state task's part: record what arrives, answer like the alert engine.
    let (seen_tx, mut seen) = mpsc::unbounded_channel();
    let responder = tokio::spawn(async move {
        while let Some(req) = requests_rx.recv().await {
            match req {
                Request::Ack {
                    id,
                    by,
                    comment,
                    reply,
                } => {
                    let mut a = alert.clone();
                    a.ack = Some(AckView {
                        by: by.clone(),
                        at_ms: 5,
                        comment: comment.clone(),
                    });
                    let _ = seen_tx.send(format!("ack {id} {by} {comment}"));
                    let _ = reply.send(Ok(hemiwatch::model::Written {
                        value: a,
                        committed: true,
                    }));
                }
                Request::Silence {
                    matcher,
                    until_ms,
                    by,
                    reply,
                    ..
                } => {
                    let _ = seen_tx.send(format!(
                        "silence {:?} {} {by}",
                        matcher.seat,
                        until_ms > hemiwatch::unix_ms()
                    ));
                    let _ = reply.send(Ok(hemiwatch::model::Written {
                        value: 42,
                        committed: true,
                    }));
                }
            }
        }
    });

    let (s, body, _) = post(
        &base,
        "/api/alerts/7/ack",
        Some(TOKEN),
        r#"{"by":" ana ","comment":"on my way"}"#,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    assert_eq!(body["id"], 7);
    assert_eq!(body["ack"]["by"], "ana");
    assert_eq!(seen.recv().await.unwrap(), "ack 7 ana on my way");
    let (s, body, _) = post(
        &base,
        "/api/silences",
        Some(TOKEN),
        r#"{"matcher":{"seat":2,"kind":"overheat_predicted"},"duration":"2h","by":"ana","comment":"fan swap"}"#,
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    assert_eq!(body["id"], 42);
    assert_eq!(seen.recv().await.unwrap(), "silence Some(2) true ana");
    assert_error(
        &get(&base, "/api/seats/2/history").await,
        StatusCode::SERVICE_UNAVAILABLE,
        "storage",
    );

    // A client that does not read while 5 000 changes go out…
    let resp = reqwest::Client::builder()
        .no_proxy()
        .build()
        .unwrap()
        .get(format!("{base}/api/events"))
        .send()
        .await
        .unwrap();
    for i in 0..5_000u32 {
        let mut seat = SeatState::new(hemicycle(1).remove(0));
        seat.temps_c = vec![30.0 + f64::from(i % 100) / 10.0];
        let _ = live.updates.send(Update::Seat(Box::new(seat)));
    }
    let mut sse = sse_reader(resp);
    // …gets its first snapshot, then (after the lag) a second one, and keeps receiving.
    next_sse(&mut sse, "first snapshot", |v| v["type"] == "snapshot").await;
    let (_, again) = next_sse(&mut sse, "resync snapshot", |v| v["type"] == "snapshot").await;
    assert_eq!(again["seats"].as_array().unwrap().len(), 4);
    assert_eq!(again["alerts"][0]["id"], 7);
    // As the state task does: the model first, then the update. A client still catching up
    // may skip the update, but then the next snapshot carries the change.
    let mut seat = SeatState::new(hemicycle(1).remove(2));
    seat.status = SeatStatus::Overheat;
    let changed = seat.place.id;
    live.model.write().unwrap().seats.insert(changed, seat.clone());
    live.updates.send(Update::Seat(Box::new(seat))).unwrap();
    next_sse(&mut sse, "the change after resync", |v| {
        (v["type"] == "seat" && v["status"] == "overheat")
            || (v["type"] == "snapshot"
                && v["seats"].as_array().is_some_and(|seats| {
                    seats
                        .iter()
                        .any(|s| s["id"] == changed && s["status"] == "overheat")
                }))
    })
    .await;

    // The state task gone: writes are 503, reads still work.
    responder.abort();
    let _ = responder.await;
    let (s, body, _) = post(&base, "/api/alerts/7/ack", Some(TOKEN), r#"{"by":"ana"}"#).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(get(&base, "/api/seats").await.0, StatusCode::OK);

    // Shutdown ends the SSE stream and the server.
    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("server stops")
        .unwrap()
        .unwrap();
    let end = tokio::time::timeout(Duration::from_secs(5), async {
        while sse.recv().await.is_some() {}
    })
    .await;
    assert!(end.is_ok(), "the SSE stream ended on shutdown");
}

/// A history source that holds every query until released: fills the concurrent-query cap
/// with requests that are really in flight on the blocking pool.
struct HeldQueries(std::sync::Mutex<bool>, std::sync::Condvar);

impl hemiwatch::http::HistorySource for HeldQueries {
    fn samples(&self, _: SeatId, _: u64, _: u64) -> Result<Vec<hemiwatch::model::HistoryPoint>, String> {
        // At most 5 s, so a build without the cap fails instead of hanging.
        let released = self.0.lock().unwrap();
        let _ = self
            .1
            .wait_timeout_while(released, Duration::from_secs(5), |r| !*r)
            .unwrap();
        Ok(Vec::new())
    }
    fn events(&self, _: SeatId, _: usize) -> Result<Vec<hemiwatch::model::EventView>, String> {
        Ok(Vec::new())
    }
}

/// An HTTP server on 127.0.0.1 over four seats, with `history` and `guard`; its base URL.
async fn guarded_server(
    history: std::sync::Arc<dyn hemiwatch::http::HistorySource>,
    guard: hemiwatch::http::HttpGuard,
) -> (String, CancellationToken) {
    use hemiwatch::model::{Hemicycle, SeatState};
    use std::sync::{Arc, RwLock};
    let mut model = Hemicycle::default();
    for place in hemicycle(1).into_iter().take(4) {
        model.seats.insert(place.id, SeatState::new(place));
    }
    let (updates, _) = tokio::sync::broadcast::channel(16);
    let (requests, _rx) = mpsc::channel(8);
    let shutdown = CancellationToken::new();
    let state = hemiwatch::http::HttpState {
        live: LiveModel {
            model: Arc::new(RwLock::new(model)),
            updates,
            requests,
        },
        lines: Vec::new(),
        api_token: Some(TOKEN.into()),
        history: Some(history),
        metrics: Arc::new(hemiwatch::metrics::Metrics::new()),
        storage_counters: None,
        outbox_counters: None,
        shutdown: shutdown.clone(),
        guard,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(hemiwatch::http::serve(listener, state, shutdown.clone()));
    (base, shutdown)
}

/// Beyond the caps, SSE clients and history queries get 429 (and a place again once one
/// leaves); the first is 2 streams and 1 query here, 64 and 8 in the daemon.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_clients_and_history_queries_are_capped_with_429() {
    let held = std::sync::Arc::new(HeldQueries(Default::default(), Default::default()));
    let (base, shutdown) = guarded_server(held.clone(), hemiwatch::http::HttpGuard::with_caps(2, 1)).await;
    let open = || client().get(format!("{base}/api/events")).send();
    let a = open().await.unwrap();
    let b = open().await.unwrap();
    assert_eq!((a.status(), b.status()), (StatusCode::OK, StatusCode::OK));
    let third = open().await.unwrap();
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS);
    let body: Value = third.json().await.unwrap();
    assert!(body["error"].as_str().unwrap().contains("live streams"), "{body}");
    drop(a);
    let mut again = StatusCode::TOO_MANY_REQUESTS;
    for _ in 0..50 {
        again = open().await.unwrap().status();
        if again == StatusCode::OK {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(again, StatusCode::OK, "a place is free once a client leaves");

    let first = tokio::spawn({
        let base = base.clone();
        async move { get(&base, "/api/seats/1/history").await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_error(
        &get(&base, "/api/seats/2/history").await,
        StatusCode::TOO_MANY_REQUESTS,
        "too many history queries",
    );
    *held.0.lock().unwrap() = true;
    held.1.notify_all();
    assert_eq!(first.await.unwrap().0, StatusCode::OK);
    assert_eq!(get(&base, "/api/seats/2/history").await.0, StatusCode::OK);
    shutdown.cancel();
}

/// A `Host` that names another site (a DNS-rebinding page) is refused; the daemon's address and
/// `localhost` are served. A failed SQLite read is a 500 that says nothing of SQLite, and a `by`
/// that would forge log lines is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rebinding_hosts_sqlite_errors_and_forged_log_lines_are_refused() {
    use hemiwatch::storage::{OutboxDoorbell, Storage, StorageSettings};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.sqlite");
    let (storage, _, _writer) = Storage::open(
        &StorageSettings {
            path: path.clone(),
            raw_retention: Duration::from_secs(3600),
            rollup_retention: Duration::from_secs(3600),
            flush_interval: Duration::from_secs(1),
            sinks: Vec::new(),
        },
        OutboxDoorbell::new(),
    )
    .unwrap();
    // A damaged file: the samples are gone from under the reader.
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("DROP TABLE samples;")
        .unwrap();
    let history = std::sync::Arc::new(hemiwatch::http::StorageHistory::new(storage.clone()));
    let (base, shutdown) = guarded_server(history, hemiwatch::http::HttpGuard::new()).await;
    let port = base.rsplit(':').next().unwrap().to_owned();
    let with_host = |host: String| {
        client()
            .get(format!("{base}/api/seats"))
            .header("host", host)
            .send()
    };
    let evil = with_host(format!("rebind.evil.example:{port}")).await.unwrap();
    assert_eq!(evil.status(), StatusCode::FORBIDDEN);
    for good in [format!("127.0.0.1:{port}"), format!("localhost:{port}")] {
        assert_eq!(
            with_host(good.clone()).await.unwrap().status(),
            StatusCode::OK,
            "{good}"
        );
    }

    let (status, body) = get(&base, "/api/seats/1/history").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
    let msg = body["error"].as_str().unwrap_or_default().to_lowercase();
    assert!(
        !msg.contains("sqlite") && !msg.contains("no such table") && !msg.contains("samples"),
        "the 500 leaks the database's words: {msg}"
    );

    let (s, body, _) = post(
        &base,
        "/api/alerts/7/ack",
        Some(TOKEN),
        r#"{"by":"ana\n2026-01-01T00:00:00Z ERROR hemiwatch: forged","comment":"x"}"#,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("control characters"),
        "{body}"
    );
    shutdown.cancel();
    storage.close();
}
