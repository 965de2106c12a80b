//! The real `hemiwatch` binary as processes: the daemon (`run --config`), simulated lines
//! (`sim --out pty:`), and its HTTP API as the technicians' tools see it. Every process is killed
//! when its handle drops, so a failing test leaves nothing running. What in-process tests share
//! with these (ports, waits, keys, processes, Alertmanager, the webhook receiver) is in
//! `hemiwatch::testkit`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::Context;
use hemiwatch::testkit::{client, free_port, key_hex, seat_key, wait_for, Proc};
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
    let proc = Proc::new(child, format!("sim {}", link.display()));
    wait_for(Duration::from_secs(10), "the simulator's pty", || {
        Ok(link.exists())
    })
    .with_context(|| format!("the simulator never created {}", link.display()))?;
    Ok(proc)
}

/// A seat entry of a test config, with its demo key (or the given wrong one).
pub fn seat_toml(id: u16, line: &str, key: Option<&str>) -> String {
    let key = key.map(str::to_owned).unwrap_or_else(|| key_hex(&seat_key(id)));
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
pub const TOKEN: &str = "test-token-0123456789abcdef";

impl Daemon {
    /// Writes `hemiwatch.toml` in `dir` (the `[daemon]`/`[storage]` header plus `body`) and
    /// starts the daemon on it; returns once its API answers. Samples are committed every second.
    pub fn start(dir: &Path, body: &str) -> anyhow::Result<Self> {
        Self::start_flushing(dir, "1s", body)
    }

    /// [`Daemon::start`] with `[storage] flush_interval = flush` (e.g. `"30s"`: a test that
    /// kills the daemon must then not find anything it did not commit at once).
    pub fn start_flushing(dir: &Path, flush: &str, body: &str) -> anyhow::Result<Self> {
        Self::start_with_env(dir, flush, body, &[])
    }

    /// [`Daemon::start_flushing`] with extra environment for the daemon process only (e.g.
    /// libfaketime's `LD_PRELOAD`, which must not reach the simulator); a restart drops it.
    pub fn start_with_env(
        dir: &Path,
        flush: &str,
        body: &str,
        env: &[(&str, &std::ffi::OsStr)],
    ) -> anyhow::Result<Self> {
        let port = free_port();
        let config = dir.join("hemiwatch.toml");
        let database = dir.join("hemiwatch.sqlite");
        let mut f = std::fs::File::create(&config)?;
        write!(
            f,
            "[daemon]\ndata_dir = \"{}\"\nhttp_bind = \"127.0.0.1:{port}\"\napi_token = \"{TOKEN}\"\n\n[storage]\nflush_interval = \"{flush}\"\n\n{body}",
            dir.display()
        )?;
        drop(f);
        Self::start_on(config, database, port, env)
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
        let fresh = Self::start_on(self.config.clone(), self.database.clone(), port, &[])?;
        *self = fresh;
        Ok(())
    }

    fn start_on(
        config: PathBuf,
        database: PathBuf,
        port: u16,
        env: &[(&str, &std::ffi::OsStr)],
    ) -> anyhow::Result<Self> {
        let log = config.with_file_name(format!(
            "daemon-{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis())
                .unwrap_or(0)
        ));
        let child = Command::new(hemiwatch_bin())
            .arg("run")
            // The rig's seats sign with the public demo keys (testkit::seat_key).
            .arg("--allow-demo-keys")
            .arg("--config")
            .arg(&config)
            .env("HEMIWATCH_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log)?)
            .spawn()
            .context("spawn hemiwatch run")?;
        let daemon = Self {
            proc: Proc::new(child, "hemiwatch run"),
            url: format!("http://127.0.0.1:{port}"),
            config,
            database,
            log,
        };
        wait_for(Duration::from_secs(20), "the daemon's API", || {
            Ok(daemon.get("/api/status").is_ok())
        })
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

    /// Waits until every configured seat has sent at least `frames` frames; the error carries
    /// the daemon's log.
    pub fn wait_frames(&self, frames: u64, timeout: Duration) -> anyhow::Result<()> {
        wait_for(timeout, &format!("{frames} frames from every seat"), || {
            Ok(self
                .seats()?
                .values()
                .all(|s| s["counters"]["frames"].as_u64().unwrap_or(0) >= frames))
        })
        .with_context(|| format!("daemon log:\n{}", self.log_text()))
    }

    /// The captured log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}
