//! The real `hemiwatch` binary as processes: the daemon (`run --config`), simulated lines
//! (`sim --out pty:`), and its HTTP API as the technicians' tools see it. Every process is killed
//! when its handle drops, so a failing test leaves nothing running.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::Value;

/// The `hemiwatch` binary of this workspace, built once per test process (a no-op when
/// `cargo test --workspace` already built it).
pub fn hemiwatch_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let root = workspace_root();
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--quiet", "-p", "hemiwatch", "--bin", "hemiwatch"])
            .current_dir(&root)
            .status()
            .expect("cargo build runs");
        assert!(status.success(), "building the hemiwatch binary failed");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"));
        target.join("debug/hemiwatch")
    })
}

/// The workspace root (the folder of the root Cargo.toml).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_owned()
}

/// A free loopback TCP port (bound then released: good enough on a test machine).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// A child process killed (SIGKILL) on drop.
#[derive(Debug)]
pub struct Proc {
    /// The child.
    pub child: Child,
    /// What it is, for messages.
    pub name: String,
}

impl Proc {
    /// Sends a signal.
    pub fn signal(&self, sig: nix::sys::signal::Signal) {
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), sig);
    }

    /// SIGKILL and reap: a pulled plug.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits for the process to exit by itself, up to `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> anyhow::Result<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait()? {
                return Ok(status);
            }
            if Instant::now() > deadline {
                bail!("{} did not exit within {timeout:?}", self.name);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A simulated line: `hemiwatch sim` on a pty linked at `link`; every seat steady unless
/// `extra` names a `--scenario`.
pub fn sim_line(link: &Path, first_id: u16, seats: u16, extra: &[&str]) -> anyhow::Result<Proc> {
    let mut cmd = Command::new(hemiwatch_bin());
    cmd.args(["sim", "--seconds", "3600"]);
    if !extra.contains(&"--scenario") {
        cmd.args(["--scenario", "steady"]);
    }
    cmd.args(["--seats", &seats.to_string(), "--first-id", &first_id.to_string()])
        .arg("--out")
        .arg(format!("pty:{}", link.display()))
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let child = cmd.spawn().context("spawn hemiwatch sim")?;
    let proc = Proc {
        child,
        name: format!("sim {}", link.display()),
    };
    wait_for(Duration::from_secs(10), || Ok(link.exists()))
        .with_context(|| format!("the simulator never created {}", link.display()))?;
    Ok(proc)
}

/// A seat entry of a test config, with its demo key (or the given wrong one).
pub fn seat_toml(id: u16, line: &str, key: Option<&str>) -> String {
    let key = key
        .map(str::to_owned)
        .unwrap_or_else(|| hex_key(&hemiwatch::sim::demo_key(id)));
    format!(
        "[[seat]]\nid = {id}\nlabel = \"T-{id:03}\"\nsector = \"{line}\"\nrow = 1\nposition = {id}\nline = \"{line}\"\nboard = \"simulated\"\nkey = \"{key}\"\n\n"
    )
}

/// A line entry of a test config: a pty named `name` in `dir`.
pub fn line_toml(name: &str, dir: &Path) -> String {
    format!(
        "[[line]]\nname = \"{name}\"\npath = \"{}\"\n\n",
        dir.join(name).display()
    )
}

/// Hex of a seat key, as config files hold it.
pub fn hex_key(key: &hemiwatch_protocol::SeatKey) -> String {
    key.0.iter().map(|b| format!("{b:02x}")).collect()
}

/// A daemon process (`hemiwatch run --config`), its data folder and its API.
#[derive(Debug)]
pub struct Daemon {
    /// The process.
    pub proc: Proc,
    /// Base URL of its API, `http://127.0.0.1:PORT`.
    pub url: String,
    /// The config file.
    pub config: PathBuf,
    /// The SQLite file.
    pub database: PathBuf,
    /// Its stderr (logs), captured to a file.
    pub log: PathBuf,
}

/// The API token the test configs use.
pub const TOKEN: &str = "test-token-0123456789";

impl Daemon {
    /// Writes `hemiwatch.toml` in `dir` (the `[daemon]`/`[storage]` header plus `body`) and
    /// starts the daemon on it; returns once its API answers.
    pub fn start(dir: &Path, body: &str) -> anyhow::Result<Self> {
        let port = free_port();
        let config = dir.join("hemiwatch.toml");
        let database = dir.join("hemiwatch.sqlite");
        let mut f = std::fs::File::create(&config)?;
        write!(
            f,
            "[daemon]\ndata_dir = \"{}\"\nhttp_bind = \"127.0.0.1:{port}\"\napi_token = \"{TOKEN}\"\n\n[storage]\nflush_interval = \"1s\"\n\n{body}",
            dir.display()
        )?;
        drop(f);
        Self::start_on(config, database, port)
    }

    /// Restarts a daemon on an existing config (after a kill), same port.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        let port: u16 = self
            .url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .context("port")?;
        self.proc.kill();
        let fresh = Self::start_on(self.config.clone(), self.database.clone(), port)?;
        *self = fresh;
        Ok(())
    }

    fn start_on(config: PathBuf, database: PathBuf, port: u16) -> anyhow::Result<Self> {
        let log = config.with_file_name(format!(
            "daemon-{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0)
        ));
        let child = Command::new(hemiwatch_bin())
            .arg("run")
            .arg("--config")
            .arg(&config)
            .env("HEMIWATCH_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .context("spawn hemiwatch run")?;
        let daemon = Self {
            proc: Proc {
                child,
                name: "hemiwatch run".into(),
            },
            url: format!("http://127.0.0.1:{port}"),
            config,
            database,
            log,
        };
        wait_for(Duration::from_secs(20), || Ok(daemon.get("/api/status").is_ok()))
            .with_context(|| format!("the daemon's API never answered; log:\n{}", daemon.log_text()))?;
        Ok(daemon)
    }

    /// GET a JSON document from the API.
    pub fn get(&self, path: &str) -> anyhow::Result<Value> {
        let resp = client()
            .get(format!("{}{path}", self.url))
            .send()?
            .error_for_status()?;
        Ok(resp.json()?)
    }

    /// Seats by id from `GET /api/seats`.
    pub fn seats(&self) -> anyhow::Result<std::collections::BTreeMap<u64, Value>> {
        let v = self.get("/api/seats")?;
        let seats = v["seats"].as_array().context("seats array")?;
        Ok(seats
            .iter()
            .filter_map(|s| Some((s["id"].as_u64()?, s.clone())))
            .collect())
    }

    /// The captured log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// A blocking HTTP client without proxies (loopback only).
pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .no_proxy()
        .build()
        .expect("HTTP client")
}

/// Polls `cond` every 20 ms until it is true or `timeout` passes.
pub fn wait_for(timeout: Duration, mut cond: impl FnMut() -> anyhow::Result<bool>) -> anyhow::Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if cond().unwrap_or(false) {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("condition not met within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A real Prometheus Alertmanager (Debian's `prometheus-alertmanager`, installed by
/// `scripts/setup.sh`) on a free loopback port, with a do-nothing receiver; killed on drop.
#[derive(Debug)]
pub struct Alertmanager {
    /// The process.
    pub proc: Proc,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    _dir: tempfile::TempDir,
}

impl Alertmanager {
    /// Starts it and waits until it is ready.
    pub fn start() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let cfg = dir.path().join("am.yml");
        // Without a default receiver Alertmanager exits at once.
        std::fs::write(
            &cfg,
            "route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n",
        )?;
        let port = free_port();
        let child = Command::new("prometheus-alertmanager")
            .arg(format!("--config.file={}", cfg.display()))
            .arg(format!("--storage.path={}", dir.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--cluster.listen-address=")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("prometheus-alertmanager (scripts/setup.sh installs it)")?;
        let am = Self {
            proc: Proc {
                child,
                name: "alertmanager".into(),
            },
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        wait_for(Duration::from_secs(20), || {
            Ok(client()
                .get(format!("{}/-/ready", am.url))
                .send()?
                .status()
                .is_success())
        })
        .context("alertmanager never became ready")?;
        Ok(am)
    }

    /// Its alerts (`GET /api/v2/alerts`).
    pub fn alerts(&self) -> anyhow::Result<Vec<Value>> {
        Ok(client()
            .get(format!("{}/api/v2/alerts", self.url))
            .send()?
            .error_for_status()?
            .json()?)
    }
}

/// A webhook receiver on a loopback port: answers 200 to every POST and keeps the JSON bodies.
/// Plain std HTTP/1.1 (Content-Length bodies, keep-alive), enough for the daemon's webhook sink.
#[derive(Clone, Debug)]
pub struct WebhookReceiver {
    /// `http://127.0.0.1:PORT/hook`.
    pub url: String,
    received: std::sync::Arc<std::sync::Mutex<Vec<Value>>>,
}

impl WebhookReceiver {
    /// Listens on `port` (0: any free port) in a background thread for the rest of the test.
    pub fn start(port: u16) -> anyhow::Result<Self> {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port))?;
        let url = format!("http://{}/hook", listener.local_addr()?);
        let received = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let store = received.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let store = store.clone();
                std::thread::spawn(move || serve_webhook(conn, &store));
            }
        });
        Ok(Self { url, received })
    }

    /// Every body received so far.
    pub fn bodies(&self) -> Vec<Value> {
        self.received.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

fn serve_webhook(conn: std::net::TcpStream, store: &std::sync::Mutex<Vec<Value>>) {
    use std::io::{BufRead, BufReader, Read};
    let Ok(mut writer) = conn.try_clone() else { return };
    let mut reader = BufReader::new(conn);
    loop {
        let mut length = 0usize;
        let mut line = String::new();
        // Request line and headers.
        loop {
            line.clear();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((name, value)) = l.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
        }
        let mut body = vec![0u8; length];
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        if let (Ok(v), Ok(mut all)) = (serde_json::from_slice::<Value>(&body), store.lock()) {
            all.push(v);
        }
        if writer
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
            .is_err()
        {
            return;
        }
    }
}
