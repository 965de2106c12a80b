//! The dashboard in a real headless Chromium (driven over WebDriver by chromedriver) against the
//! real daemon watching the embedded default hemicycle: 577 simulated seats speaking the real
//! protocol over real ptys, one line per sector.
//!
//! One fixture serves every test of this binary: the daemon, its seats and chromedriver start
//! once, and a watcher page opened at once sees seat [`HOT`], heating at 10 °C/min, turn
//! "overheat predicted" (the prediction needs two minutes of history, so the binary takes about
//! three). The other tests each drive their own browser session, one at a time and only after the
//! watcher has measured, so nothing competes with that measurement: the map (577 seats drawn,
//! one tab stop, first load under 200 KB, first render measured), the live alert (shown within
//! 2 s of the daemon's, without a reload), acknowledging from the UI (refused without the token,
//! changing nothing, accepted with it), the keyboard (arrows move the tab stop, Enter opens the
//! panel), the seat panel, and the layout at tablet size. Screenshots go to `target/browser/`,
//! one per failed test too.

use std::collections::BTreeMap;
use std::future::Future;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::Context;
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use hemiwatch::config::Config;
use hemiwatch::model::{LiveModel, SeatStatus, Update};
use hemiwatch::sim::{Scenario, SimSeat};
use hemiwatch::testkit::{free_port, seat_key, wait_until, Proc, SettingsBuilder, TestDaemon};
use hemiwatch_protocol::SeatId;
use serde_json::{json, Value};
use tokio::sync::watch;

const TOKEN: &str = "browser-test-token";
/// The seat that overheats: mid-hemicycle (sector E), so it is visible in the screenshot.
const HOT: SeatId = 300;
/// Seats of the embedded default hemicycle.
const SEATS: u64 = 577;
/// How long the daemon may take to predict the hot seat's overheating (two minutes of history
/// plus margin for a loaded machine).
const PREDICTION_WITHIN: Duration = Duration::from_secs(240);

// ---------------------------------------------------------------------------------------------
// The tests.

#[test]
fn the_map_draws_577_seats_as_one_tab_stop_in_under_200_kb() {
    fixture().test("map", |page| async move {
        let drawn = page
            .js("return document.querySelectorAll('#map circle.seat[data-id]').length")
            .await;
        assert_eq!(drawn, json!(SEATS));
        let legend_total = page
            .js("return [...document.querySelectorAll('#legend .count')].reduce((n, e) => n + Number(e.textContent), 0)")
            .await;
        assert_eq!(legend_total, json!(SEATS));
        let resources = page
            .js("return performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource'))
                .reduce((n, e) => n + (e.transferSize || 0), 0) + window.hemiwatch.snapshotBytes")
            .await;
        println!("first load transfer in Chromium (page, assets, /api/seats, SSE snapshot): {resources} bytes");
        assert!(
            resources.as_f64().is_some_and(|b| b > 0.0 && b <= 200.0 * 1024.0),
            "{resources}"
        );
        let one_tab_stop = page
            .js("return document.querySelectorAll('#map [tabindex=\"0\"]').length")
            .await;
        assert_eq!(one_tab_stop, json!(1), "the map is one tab stop (roving tabindex)");
        let label = page
            .js(&format!(
                "return document.querySelector('circle[data-id=\"{HOT}\"]').getAttribute('aria-label')"
            ))
            .await;
        let hot_label = &fixture().hot_label;
        assert!(
            label
                .as_str()
                .is_some_and(|l| l.starts_with(&format!("Seat {hot_label}, sector "))),
            "{label}"
        );

        // First render, measured over fresh loads at 1366×768 (median of 5).
        let (mut render, mut draw) = (Vec::new(), Vec::new());
        for _ in 0..5 {
            page.load().await;
            render.push(page.js("return window.hemiwatch.renderMs").await.as_f64().unwrap_or(f64::NAN));
            draw.push(page.js("return window.hemiwatch.drawMs").await.as_f64().unwrap_or(f64::NAN));
        }
        render.sort_by(f64::total_cmp);
        draw.sort_by(f64::total_cmp);
        println!(
            "first render of the 577-seat map over 5 loads: median {:.0} ms after navigation start (min {:.0}, max {:.0}); \
             building the SVG itself: median {:.1} ms",
            render[2], render[0], render[4], draw[2]
        );
    });
}

#[test]
fn a_predicted_overheat_shows_on_the_open_page_within_2_s_without_a_reload() {
    let fx = fixture();
    let seen = fx.run(fx.live_alert()).unwrap_or_else(|e| panic!("{e}"));
    println!(
        "seat {HOT} turned overheat_predicted in the daemon; the page showed it {:?} later ({})",
        seen.shown_after, seen.class
    );
    assert!(
        seen.shown_after <= Duration::from_secs(2),
        "{:?}",
        seen.shown_after
    );
    assert!(seen.not_reloaded, "no reload");
}

#[test]
fn acknowledging_from_the_ui_is_refused_without_the_token_and_works_with_it() {
    fixture().test("acknowledge", |page| async move {
        let live = &fixture().daemon.running.live;
        let mut id = None;
        wait_until(Duration::from_secs(30), "an open alert on the hot seat", || {
            id = open_alert(live);
            std::future::ready(Ok(id.is_some()))
        })
        .await
        .expect("the hot seat raised an alert");
        let id = id.expect("an open alert");
        let ack = format!(".alert[data-id=\"{id}\"] button.ack");
        page.until(
            "alert listed",
            Duration::from_secs(5),
            &format!("return !!document.querySelector('{ack}')"),
        )
        .await;

        // Without the token: refused, nothing changes.
        page.js("sessionStorage.removeItem('hemiwatch.token'); document.getElementById('token').value = ''; return true")
            .await;
        page.click(Locator::Css(&ack)).await;
        let by = page.find(Locator::Id("dlg-by")).await;
        by.clear().await.expect("clear the name field");
        by.send_keys("ana").await.expect("type a name");
        page.type_into(Locator::Id("dlg-comment"), "checking the console").await;
        page.click(Locator::Id("dlg-ok")).await;
        page.until(
            "refusal shown",
            Duration::from_secs(5),
            "return document.getElementById('dlg-error').textContent.startsWith('Refused')",
        )
        .await;
        assert_eq!(acked_by(live, id), None, "a refused ack changed the alert");
        page.screenshot("ack-refused.png").await;
        page.click(Locator::Id("dlg-cancel")).await;

        // With the token.
        page.type_into(Locator::Id("token"), TOKEN).await;
        page.click(Locator::Css(&ack)).await;
        page.click(Locator::Id("dlg-ok")).await;
        page.until(
            "ack shown",
            Duration::from_secs(5),
            &format!("return document.querySelector('.alert[data-id=\"{id}\"]')?.dataset.acked === '1'"),
        )
        .await;
        assert_eq!(acked_by(live, id).as_deref(), Some("ana"));
    });
}

#[test]
fn arrow_keys_move_the_maps_tab_stop_and_enter_opens_the_panel() {
    fixture().test("keyboard", |page| async move {
        let first = page
            .js("const e = document.querySelector('#map [tabindex=\"0\"]'); e.focus(); return e.dataset.id")
            .await;
        let tab_stop = Locator::Css("#map [tabindex=\"0\"]");
        page.type_into(tab_stop, &Key::Right.to_string()).await;
        let moved = page.js("return document.activeElement.dataset.id").await;
        assert_ne!(moved, first, "ArrowRight moves to the next seat of the row");
        assert_eq!(
            page.js("return document.activeElement.getAttribute('tabindex')").await,
            json!("0")
        );
        page.type_into(tab_stop, &Key::Enter.to_string()).await;
        page.until("panel by keyboard", Duration::from_secs(5), &format!(
            "return !document.getElementById('panel').hidden && document.getElementById('p-title').textContent.length > 5 && document.querySelector('#map .sel')?.dataset.id === {moved}"
        ))
        .await;
    });
}

#[test]
fn clicking_a_seat_opens_its_panel_with_facts_and_temperature_chart() {
    fixture().test("panel", |page| async move {
        page.click(Locator::Css(&format!("circle[data-id=\"{HOT}\"]"))).await;
        page.until(
            "panel",
            Duration::from_secs(5),
            "return !document.getElementById('panel').hidden && document.getElementById('p-facts').children.length > 10",
        )
        .await;
        let title = page.js("return document.getElementById('p-title').textContent").await;
        assert_eq!(title, json!(format!("Seat {}", fixture().hot_label)));
        let facts = page.js("return document.getElementById('p-facts').textContent").await;
        let facts = facts.as_str().unwrap_or_default().to_string();
        assert!(
            facts.contains("Firmware") && facts.contains("Protocol") && facts.contains(" ok, "),
            "{facts}"
        );
        page.until(
            "temperature chart",
            Duration::from_secs(10),
            "return !!document.querySelector('#p-chart polyline.mean')",
        )
        .await;
        let shot = page.screenshot("hemicycle.png").await;
        assert!(std::fs::metadata(&shot).map(|m| m.len() > 10_000).unwrap_or(false));
    });
}

#[test]
fn the_map_fills_a_tablet_in_portrait() {
    fixture().test("layout", |page| async move {
        page.c.set_window_size(768, 1024).await.expect("resize");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let w = page
            .js("return document.getElementById('map').getBoundingClientRect().width")
            .await;
        assert!(w.as_f64().is_some_and(|w| w > 600.0), "map width at 768 px: {w}");
        page.screenshot("hemicycle-tablet.png").await;
    });
}

// ---------------------------------------------------------------------------------------------
// The page helper.

/// One browser session on the dashboard: open, wait for an element or a condition with a
/// deadline, click, type, screenshot.
#[derive(Clone)]
struct Page {
    c: Client,
    url: String,
}

impl Page {
    /// A fresh Chromium session (1366×768) with the dashboard loaded, drawn and live.
    async fn open(driver: &str, url: &str) -> anyhow::Result<Self> {
        let mut caps = serde_json::Map::new();
        let mut opts = json!({
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1366,768", "--disable-dev-shm-usage"]
        });
        if std::path::Path::new("/usr/bin/chromium").exists() {
            opts["binary"] = json!("/usr/bin/chromium");
        }
        caps.insert("goog:chromeOptions".into(), opts);
        let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(driver)
            .await
            .context("a Chromium session")?;
        let page = Self {
            c,
            url: url.to_owned(),
        };
        page.load().await;
        Ok(page)
    }

    /// (Re)loads the dashboard and waits until the map is drawn and the SSE snapshot arrived.
    async fn load(&self) {
        self.c.goto(&self.url).await.expect("open the dashboard");
        self.until(
            "map drawn",
            Duration::from_secs(15),
            &format!("return document.body.dataset.rendered === '{SEATS}'"),
        )
        .await;
        self.until(
            "SSE snapshot",
            Duration::from_secs(10),
            "return document.body.dataset.live === '1'",
        )
        .await;
    }

    /// Runs `script` in the page.
    async fn js(&self, script: &str) -> Value {
        self.c
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("script {script:?} failed: {e}"))
    }

    /// Polls `script` until it returns `true`, for at most `within`; how long it took.
    async fn until(&self, what: &str, within: Duration, script: &str) -> Duration {
        let start = Instant::now();
        loop {
            if self.js(script).await == Value::Bool(true) {
                return start.elapsed();
            }
            assert!(start.elapsed() < within, "{what}: not within {within:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// The element at `at` (it must be there).
    async fn find(&self, at: Locator<'_>) -> fantoccini::elements::Element {
        self.c
            .find(at)
            .await
            .unwrap_or_else(|e| panic!("no element {at:?}: {e}"))
    }

    /// Clicks the element at `at`. The page re-renders a list when the daemon's live updates
    /// change it, so the element found may be replaced before the click lands ("stale element
    /// reference"): the click is then made on the element found again, as a person clicks again
    /// on what is now there — at most a few times, never past another error.
    async fn click(&self, at: Locator<'_>) {
        let mut tries = 0;
        loop {
            match self.find(at).await.click().await {
                Ok(()) => return,
                Err(e) if tries < 5 && e.to_string().contains("stale element") => tries += 1,
                Err(e) => panic!("click {at:?}: {e}"),
            }
        }
    }

    /// Types `keys` into the element at `at`.
    async fn type_into(&self, at: Locator<'_>, keys: &str) {
        self.find(at)
            .await
            .send_keys(keys)
            .await
            .unwrap_or_else(|e| panic!("type into {at:?}: {e}"));
    }

    /// Saves a screenshot as `target/browser/{name}`.
    async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.c.screenshot().await.expect("screenshot");
        let path = shots_dir().join(name);
        std::fs::write(&path, png).expect("write screenshot");
        println!("screenshot: {}", path.display());
        path
    }
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

// ---------------------------------------------------------------------------------------------
// The shared fixture.

/// What the watcher page saw when the daemon predicted the hot seat's overheating.
#[derive(Clone, Debug)]
struct LiveAlert {
    /// From the daemon's change to the page showing it.
    shown_after: Duration,
    /// The seat's classes on the page then.
    class: Value,
    /// The page was not reloaded in between.
    not_reloaded: bool,
}

/// The daemon with its 577 simulated seats, chromedriver, and the watcher's outcome, shared by
/// every test of the binary. It lives in a static (never dropped): chromedriver's process group
/// and the temp dir are cleaned up by an exit hook instead.
struct Fixture {
    rt: tokio::runtime::Runtime,
    daemon: TestDaemon,
    _chromedriver: Proc,
    /// chromedriver's URL.
    driver: String,
    hot_label: String,
    /// `None` until the watcher has seen the live alert (or given up on it).
    live_alert: watch::Receiver<Option<Result<LiveAlert, String>>>,
    /// One test drives a browser at a time: on 2 cores, parallel Chromiums would blur the
    /// timings they measure.
    turn: tokio::sync::Mutex<()>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(Fixture::start)
}

/// chromedriver's process group (0: not started), killed at exit with the Chromiums in it.
static DRIVER_GROUP: AtomicI32 = AtomicI32::new(0);
/// The fixture's temp dir, removed at exit.
static FIXTURE_DIR: OnceLock<PathBuf> = OnceLock::new();

extern "C" fn clean_up_at_exit() {
    let group = DRIVER_GROUP.load(Ordering::SeqCst);
    if group > 0 {
        let _ = nix::sys::signal::killpg(
            nix::unistd::Pid::from_raw(group),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    if let Some(dir) = FIXTURE_DIR.get() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

impl Fixture {
    fn start() -> Self {
        // SAFETY: registers a plain function without captured state, run once at process exit.
        unsafe { nix::libc::atexit(clean_up_at_exit) };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let ((chromedriver, driver), daemon) = rt.block_on(async {
            let driver = start_driver().await;
            let daemon = start_daemon().await;
            (driver, daemon)
        });
        let _ = FIXTURE_DIR.set(daemon.dir().to_owned());
        let hot_label = daemon
            .running
            .live
            .model
            .read()
            .map(|m| m.seats[&HOT].place.label.clone())
            .expect("model");
        let (tx, live_alert) = watch::channel(None);
        let (driver_url, url, live) = (
            driver.clone(),
            format!("{}/", daemon.base),
            daemon.running.live.clone(),
        );
        rt.spawn(async move {
            let seen = watch_live_alert(&driver_url, &url, &live).await;
            let _ = tx.send(Some(seen.map_err(|e| format!("{e:#}"))));
        });
        Self {
            rt,
            daemon,
            _chromedriver: chromedriver,
            driver,
            hot_label,
            live_alert,
            turn: tokio::sync::Mutex::new(()),
        }
    }

    /// Runs `f` on the fixture's runtime (where the daemon runs).
    fn run<T>(&self, f: impl Future<Output = T>) -> T {
        self.rt.block_on(f)
    }

    /// What the watcher saw, once it has (a deadline past the prediction's).
    async fn live_alert(&self) -> Result<LiveAlert, String> {
        let mut rx = self.live_alert.clone();
        let seen = tokio::time::timeout(
            PREDICTION_WITHIN + Duration::from_secs(60),
            rx.wait_for(Option::is_some),
        )
        .await
        .map_err(|_| "the watcher page never reported".to_string())?
        .map_err(|_| "the watcher page stopped".to_string())?;
        seen.clone().expect("waited for Some")
    }

    /// Runs one test's `body` on its own page, after the watcher has measured and while no other
    /// test drives a browser; on failure saves `target/browser/failed-{name}.png` first.
    fn test<F, Fut>(&'static self, name: &str, body: F)
    where
        F: FnOnce(Page) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.run(async {
            let _ = self.live_alert().await;
            let _turn = self.turn.lock().await;
            let page = Page::open(&self.driver, &format!("{}/", self.daemon.base))
                .await
                .expect("the dashboard opens");
            let outcome = tokio::spawn(body(page.clone())).await;
            if outcome.is_err() {
                page.screenshot(&format!("failed-{name}.png")).await;
            }
            let _ = page.c.close().await;
            if let Err(e) = outcome {
                std::panic::resume_unwind(e.into_panic());
            }
        });
    }
}

/// chromedriver on a free port, in its own process group (with the Chromiums it starts); its
/// URL.
async fn start_driver() -> (Proc, String) {
    let port = free_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver is installed (Debian chromium-driver; scripts/setup.sh installs it)");
    DRIVER_GROUP.store(child.id() as i32, Ordering::SeqCst);
    let proc = Proc::new(child, "chromedriver");
    wait_until(Duration::from_secs(15), "chromedriver listening", || async move {
        Ok(tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok())
    })
    .await
    .expect("chromedriver starts");
    (proc, format!("http://127.0.0.1:{port}"))
}

/// The embedded default hemicycle (577 seats, 8 lines) on ptys, the daemon on 127.0.0.1:0.
/// Seat [`HOT`] heats at 10 °C/min from the start: predicted to overheat once the trend has its
/// two minutes of history, well before it reaches 85 °C.
async fn start_daemon() -> TestDaemon {
    let settings = Config::embedded_default()
        .resolve()
        .expect("embedded default resolves");
    let mut by_line: BTreeMap<String, Vec<SimSeat>> = BTreeMap::new();
    for s in &settings.seats {
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
        by_line
            .entry(line)
            .or_default()
            .push(SimSeat::new(id, seat_key(id), scenario, s.period_ms, 5, 0));
    }
    let builder = by_line.into_iter().fold(
        SettingsBuilder::from_settings(settings)
            .token(TOKEN)
            .flush_interval(Duration::from_millis(250)),
        |b, (line, seats)| b.pty_line(&line, seats),
    );
    TestDaemon::start(builder).await.expect("daemon started")
}

/// The watcher: a page open from the start, marked so a reload would show, measuring how long
/// after the daemon's change to overheat_predicted the page shows it.
async fn watch_live_alert(driver: &str, url: &str, live: &LiveModel) -> anyhow::Result<LiveAlert> {
    let mut updates = live.updates.subscribe();
    let page = Page::open(driver, url).await?;
    page.js("window.__notReloaded = true; return true").await;
    let deadline = tokio::time::Instant::now() + PREDICTION_WITHIN;
    let t0 = loop {
        match tokio::time::timeout_at(deadline, updates.recv()).await {
            Ok(Ok(Update::Seat(s))) if s.place.id == HOT && s.status == SeatStatus::OverheatPredicted => {
                break Instant::now()
            }
            Ok(Ok(_)) | Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
            other => anyhow::bail!(
                "seat {HOT} did not turn overheat_predicted within {PREDICTION_WITHIN:?}: {other:?}"
            ),
        }
    };
    let shown = format!(
        "return document.querySelector('circle[data-id=\"{HOT}\"]').getAttribute('class').includes('s-overheat_predicted')"
    );
    let script = page.clone();
    let shown = tokio::spawn(async move {
        script
            .until("overheat predicted shown", Duration::from_secs(2), &shown)
            .await
    })
    .await;
    let shown_after = t0.elapsed();
    if shown.is_err() {
        page.screenshot("failed-live-alert.png").await;
        let _ = page.c.close().await;
        anyhow::bail!("seat {HOT}'s overheat_predicted not shown on the page within 2 s");
    }
    let class = page
        .js(&format!(
            "return document.querySelector('circle[data-id=\"{HOT}\"]').getAttribute('class')"
        ))
        .await;
    let not_reloaded = page.js("return window.__notReloaded === true").await == json!(true);
    let _ = page.c.close().await;
    Ok(LiveAlert {
        shown_after,
        class,
        not_reloaded,
    })
}

/// An open, unacknowledged alert.
fn open_alert(live: &LiveModel) -> Option<i64> {
    let m = live.model.read().unwrap_or_else(|p| p.into_inner());
    m.alerts
        .values()
        .filter(|a| a.state != hemiwatch::alert::AlertState::Resolved && a.ack.is_none())
        .map(|a| a.id)
        .next()
}

/// Who acknowledged alert `id`, if anyone.
fn acked_by(live: &LiveModel, id: i64) -> Option<String> {
    let m = live.model.read().unwrap_or_else(|p| p.into_inner());
    m.alerts
        .get(&id)
        .and_then(|a| a.ack.as_ref().map(|k| k.by.clone()))
}
