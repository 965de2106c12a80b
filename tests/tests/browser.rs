//! The dashboard in a real headless Chromium (driven over WebDriver by chromedriver) against the
//! real daemon watching the embedded default hemicycle: 577 simulated seats speaking the real
//! protocol over real ptys, one line per sector.
//!
//! Checks: 577 seats drawn; a seat heating up at 10 °C/min turns "overheat predicted" on the
//! page within 2 s of the daemon's alert, without a reload (the prediction needs two minutes of
//! history, so this test takes about three); the seat panel opens on click; acknowledging from the UI without the token is
//! refused (and changes nothing) and with it works; the layout holds at tablet size.
//! Measures the first render of the map. Saves screenshots under `target/browser/`.

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use hemiwatch::config::Config;
use hemiwatch::model::{LiveModel, SeatStatus, Update};
use hemiwatch::sim::{demo_key, run_pty_line, Scenario, SimSeat};
use hemiwatch::source::Endpoint;
use hemiwatch_protocol::SeatId;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

const TOKEN: &str = "browser-test-token";
/// The seat that overheats: mid-hemicycle (sector E), so it is visible in the screenshot.
const HOT: SeatId = 300;

/// chromedriver as a child process in its own process group, which is killed whole when the
/// test ends however it ends: the Chromium it started goes too, even after a failed assertion
/// that never closed the WebDriver session.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let group = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::killpg(group, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

async fn start_driver() -> Driver {
    let port = free_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver is installed (Debian chromium-driver; scripts/setup.sh installs it)");
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    while tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_err() {
        assert!(Instant::now() < deadline, "chromedriver did not listen on {port}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    driver
}

async fn browser(driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    let mut opts = json!({
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1366,768", "--disable-dev-shm-usage"]
    });
    if std::path::Path::new("/usr/bin/chromium").exists() {
        opts["binary"] = json!("/usr/bin/chromium");
    }
    caps.insert("goog:chromeOptions".into(), opts);
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a Chromium session")
}

/// Where screenshots go: the workspace's target dir (kept after the run, unlike a temp dir).
fn shots_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let dir = target.join("browser");
    std::fs::create_dir_all(&dir).expect("target/browser");
    dir
}

struct Daemon {
    base: String,
    live: LiveModel,
    shutdown: CancellationToken,
    daemon: tokio::task::JoinHandle<Result<(), hemiwatch::daemon::DaemonError>>,
    _dir: tempfile::TempDir,
}

/// The embedded default hemicycle (577 seats, 8 lines) on ptys, the daemon on 127.0.0.1:0.
/// Seat [`HOT`] heats at 10 °C/min from the start: predicted to overheat once the trend has its
/// two minutes of history, well before it reaches 85 °C.
async fn start_daemon() -> Daemon {
    let dir = tempfile::tempdir().expect("temp dir");
    let shutdown = CancellationToken::new();
    let mut settings = Config::embedded_default()
        .resolve()
        .expect("embedded default resolves");
    settings.http_bind = "127.0.0.1:0".parse().expect("addr");
    settings.api_token = Some(TOKEN.into());
    settings.database = dir.path().join("hemiwatch.sqlite");
    settings.flush_interval = Duration::from_millis(250);
    let mut by_line: BTreeMap<String, Vec<SimSeat>> = BTreeMap::new();
    for s in &mut settings.seats {
        let id = s.place.id;
        let scenario = if id == HOT {
            Scenario::Runaway {
                start_ms: 0,
                rate_c_per_min: 10.0,
            }
        } else {
            Scenario::Steady
        };
        let line = s.place.line.clone().expect("every default seat has a line");
        let period = s.period_ms;
        by_line
            .entry(line)
            .or_default()
            .push(SimSeat::new(id, demo_key(id), scenario, period, 5, 0));
    }
    for line in &mut settings.lines {
        let link = dir.path().join(&line.name);
        let seats = by_line.remove(&line.name).unwrap_or_default();
        let (_ctl, ctl_rx) = mpsc::channel(1);
        tokio::spawn(run_pty_line(seats, link.clone(), ctl_rx, shutdown.clone()));
        while !link.exists() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        line.endpoint = Endpoint::parse(link.to_str().expect("utf-8 path"), 115_200).expect("endpoint");
    }
    let (tx, mut rx) = mpsc::channel(1);
    let daemon = tokio::spawn(hemiwatch::daemon::run(settings, shutdown.clone(), move |r| {
        let _ = tx.try_send((r.live.clone(), r.http_addr));
    }));
    let (live, addr) = rx.recv().await.expect("daemon started");
    Daemon {
        base: format!("http://{addr}/"),
        live,
        shutdown,
        daemon,
        _dir: dir,
    }
}

async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, vec![])
        .await
        .unwrap_or_else(|e| panic!("script {script:?} failed: {e}"))
}

/// Polls `script` until it returns `true`, for at most `within`.
async fn until(c: &Client, what: &str, within: Duration, script: &str) -> Duration {
    let start = Instant::now();
    loop {
        if js(c, script).await == Value::Bool(true) {
            return start.elapsed();
        }
        assert!(start.elapsed() < within, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn screenshot(c: &Client, name: &str) -> PathBuf {
    let png = c.screenshot().await.expect("screenshot");
    let path = shots_dir().join(name);
    std::fs::write(&path, png).expect("write screenshot");
    println!("screenshot: {}", path.display());
    path
}

fn open_alert(live: &LiveModel) -> Option<i64> {
    let m = live.model.read().unwrap_or_else(|p| p.into_inner());
    m.alerts
        .values()
        .filter(|a| a.state != hemiwatch::alert::AlertState::Resolved && a.ack.is_none())
        .map(|a| a.id)
        .next()
}

fn acked_by(live: &LiveModel, id: i64) -> Option<String> {
    let m = live.model.read().unwrap_or_else(|p| p.into_inner());
    m.alerts
        .get(&id)
        .and_then(|a| a.ack.as_ref().map(|k| k.by.clone()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_in_headless_chromium() {
    let driver = start_driver().await;
    let d = start_daemon().await;
    let mut updates = d.live.updates.subscribe();
    let c = browser(&driver).await;

    // First load: 577 seats drawn, then live.
    c.goto(&d.base).await.expect("open the dashboard");
    until(
        &c,
        "map drawn",
        Duration::from_secs(15),
        "return document.body.dataset.rendered === '577'",
    )
    .await;
    let render_ms = js(&c, "return window.hemiwatch.renderMs").await;
    let draw_ms = js(&c, "return window.hemiwatch.drawMs").await;
    println!(
        "first render of the 577-seat map: {render_ms} ms after navigation start (performance.now()); drawing itself {draw_ms} ms"
    );
    let drawn = js(
        &c,
        "return document.querySelectorAll('#map circle.seat[data-id]').length",
    )
    .await;
    assert_eq!(drawn, json!(577));
    until(
        &c,
        "SSE snapshot",
        Duration::from_secs(10),
        "return document.body.dataset.live === '1'",
    )
    .await;
    let legend_total = js(
        &c,
        "return [...document.querySelectorAll('#legend .count')].reduce((n, e) => n + Number(e.textContent), 0)",
    )
    .await;
    assert_eq!(legend_total, json!(577));
    let resources = js(
        &c,
        "return performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))
            .reduce((n, e) => n + (e.transferSize || 0), 0) + window.hemiwatch.snapshotBytes",
    )
    .await;
    println!("first load transfer in Chromium (page, assets, /api/seats, SSE snapshot): {resources} bytes");
    assert!(
        resources.as_f64().is_some_and(|b| b > 0.0 && b <= 200.0 * 1024.0),
        "{resources}"
    );
    let one_tab_stop = js(
        &c,
        "return document.querySelectorAll('#map [tabindex=\"0\"]').length",
    )
    .await;
    assert_eq!(
        one_tab_stop,
        json!(1),
        "the map is one tab stop (roving tabindex)"
    );
    let hot_label = d
        .live
        .model
        .read()
        .map(|m| m.seats[&HOT].place.label.clone())
        .expect("model");
    let label = js(
        &c,
        &format!("return document.querySelector('circle[data-id=\"{HOT}\"]').getAttribute('aria-label')"),
    )
    .await;
    assert!(
        label
            .as_str()
            .is_some_and(|l| l.starts_with(&format!("Seat {hot_label}, sector "))),
        "{label}"
    );

    // A marker that a reload would wipe.
    js(&c, "window.__notReloaded = true; return true").await;
    // Wait for the daemon to predict the hot seat's overheating, then for the page to show it.
    let (t0, status) = loop {
        match tokio::time::timeout(Duration::from_secs(240), updates.recv()).await {
            Ok(Ok(Update::Seat(s))) if s.place.id == HOT && s.status == SeatStatus::OverheatPredicted => {
                break (Instant::now(), s.status)
            }
            Ok(Ok(_)) | Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
            other => panic!("seat {HOT} never turned overheat_predicted: {other:?}"),
        }
    };
    let script = format!(
        "return document.querySelector('circle[data-id=\"{HOT}\"]').getAttribute('class').includes('s-overheat_predicted')"
    );
    until(&c, "overheat predicted shown", Duration::from_secs(2), &script).await;
    let shown_after = t0.elapsed();
    let class = js(
        &c,
        &format!("return document.querySelector('circle[data-id=\"{HOT}\"]').getAttribute('class')"),
    )
    .await;
    println!(
        "seat {HOT} turned {} in the daemon; the page showed it {shown_after:?} later ({class})",
        status.name()
    );
    assert!(shown_after <= Duration::from_secs(2));
    assert_eq!(
        js(&c, "return window.__notReloaded === true").await,
        json!(true),
        "no reload"
    );

    // Acknowledge from the UI the alert just shown (before failover cools the seat and the
    // prediction resolves).
    let deadline = Instant::now() + Duration::from_secs(30);
    let id = loop {
        if let Some(id) = open_alert(&d.live) {
            break id;
        }
        assert!(
            Instant::now() < deadline,
            "the hot seat raised no alert within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let sel = format!(".alert[data-id=\"{id}\"] button.ack");
    until(
        &c,
        "alert listed",
        Duration::from_secs(5),
        &format!("return !!document.querySelector('{sel}')"),
    )
    .await;
    // Without the token: refused, nothing changes.
    js(&c, "sessionStorage.removeItem('hemiwatch.token'); document.getElementById('token').value = ''; return true").await;
    c.find(Locator::Css(&sel))
        .await
        .expect("ack button")
        .click()
        .await
        .expect("click ack");
    let by = c.find(Locator::Id("dlg-by")).await.expect("name field");
    by.clear().await.expect("clear");
    by.send_keys("ana").await.expect("type name");
    c.find(Locator::Id("dlg-comment"))
        .await
        .expect("comment")
        .send_keys("checking the console")
        .await
        .expect("type");
    c.find(Locator::Id("dlg-ok"))
        .await
        .expect("ok")
        .click()
        .await
        .expect("submit");
    until(
        &c,
        "refusal shown",
        Duration::from_secs(5),
        "return document.getElementById('dlg-error').textContent.startsWith('Refused')",
    )
    .await;
    assert_eq!(acked_by(&d.live, id), None, "a refused ack changed the alert");
    screenshot(&c, "ack-refused.png").await;
    c.find(Locator::Id("dlg-cancel"))
        .await
        .expect("cancel")
        .click()
        .await
        .expect("cancel");
    // With the token.
    c.find(Locator::Id("token"))
        .await
        .expect("token field")
        .send_keys(TOKEN)
        .await
        .expect("type token");
    c.find(Locator::Css(&sel))
        .await
        .expect("ack button")
        .click()
        .await
        .expect("click ack");
    c.find(Locator::Id("dlg-ok"))
        .await
        .expect("ok")
        .click()
        .await
        .expect("submit");
    until(
        &c,
        "ack shown",
        Duration::from_secs(5),
        &format!("return document.querySelector('.alert[data-id=\"{id}\"]')?.dataset.acked === '1'"),
    )
    .await;
    assert_eq!(acked_by(&d.live, id).as_deref(), Some("ana"));

    // Keyboard: the map's tab stop moves with the arrow keys; Enter opens the panel.
    let first = js(
        &c,
        "const e = document.querySelector('#map [tabindex=\"0\"]'); e.focus(); return e.dataset.id",
    )
    .await;
    c.find(Locator::Css("#map [tabindex=\"0\"]"))
        .await
        .expect("tab stop")
        .send_keys(&Key::Right.to_string())
        .await
        .expect("arrow right");
    let moved = js(&c, "return document.activeElement.dataset.id").await;
    assert_ne!(moved, first, "ArrowRight moves to the next seat of the row");
    assert_eq!(
        js(&c, "return document.activeElement.getAttribute('tabindex')").await,
        json!("0")
    );
    c.find(Locator::Css("#map [tabindex=\"0\"]"))
        .await
        .expect("tab stop")
        .send_keys(&Key::Enter.to_string())
        .await
        .expect("enter");
    until(&c, "panel by keyboard", Duration::from_secs(5), &format!(
        "return !document.getElementById('panel').hidden && document.getElementById('p-title').textContent.length > 5 && {moved} !== null"
    ))
    .await;

    // The seat panel.
    c.find(Locator::Css(&format!("circle[data-id=\"{HOT}\"]")))
        .await
        .expect("hot seat")
        .click()
        .await
        .expect("click the hot seat");
    until(&c, "panel", Duration::from_secs(5), "return !document.getElementById('panel').hidden && document.getElementById('p-facts').children.length > 10").await;
    let title = js(&c, "return document.getElementById('p-title').textContent").await;
    assert_eq!(title, json!(format!("Seat {hot_label}")));
    let facts = js(&c, "return document.getElementById('p-facts').textContent").await;
    let facts = facts.as_str().unwrap_or_default().to_string();
    assert!(
        facts.contains("Firmware") && facts.contains("Protocol") && facts.contains(" ok, "),
        "{facts}"
    );
    until(
        &c,
        "temperature chart",
        Duration::from_secs(10),
        "return !!document.querySelector('#p-chart polyline.mean')",
    )
    .await;

    let shot = screenshot(&c, "hemicycle.png").await;
    assert!(std::fs::metadata(&shot)
        .map(|m| m.len() > 10_000)
        .unwrap_or(false));

    // Tablet, portrait: the map still fills the width.
    c.set_window_size(768, 1024).await.expect("resize");
    tokio::time::sleep(Duration::from_millis(300)).await;
    let w = js(
        &c,
        "return document.getElementById('map').getBoundingClientRect().width",
    )
    .await;
    assert!(w.as_f64().is_some_and(|w| w > 600.0), "map width at 768 px: {w}");
    screenshot(&c, "hemicycle-tablet.png").await;

    // First render, measured over fresh loads at 1366×768 (median of 5).
    c.set_window_size(1366, 768).await.expect("resize");
    let (mut render, mut draw) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        c.goto(&d.base).await.expect("reload");
        until(
            &c,
            "map drawn",
            Duration::from_secs(15),
            "return document.body.dataset.rendered === '577'",
        )
        .await;
        render.push(
            js(&c, "return window.hemiwatch.renderMs")
                .await
                .as_f64()
                .unwrap_or(f64::NAN),
        );
        draw.push(
            js(&c, "return window.hemiwatch.drawMs")
                .await
                .as_f64()
                .unwrap_or(f64::NAN),
        );
    }
    render.sort_by(f64::total_cmp);
    draw.sort_by(f64::total_cmp);
    println!(
        "first render of the 577-seat map over 5 loads: median {:.0} ms after navigation start (min {:.0}, max {:.0}); \
         building the SVG itself: median {:.1} ms",
        render[2], render[0], render[4], draw[2]
    );

    c.close().await.expect("close the browser");
    d.shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(15), d.daemon)
        .await
        .expect("daemon stops")
        .expect("daemon task")
        .expect("daemon ok");
    drop(driver);
}
