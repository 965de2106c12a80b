//! A real Prometheus Alertmanager (Debian's `prometheus-alertmanager`, installed by
//! `scripts/setup.sh`): the sink tests and the end-to-end scenarios deliver to the real thing, not
//! to a mock of its API.

use std::process::{Command, Stdio};
use std::time::Duration;

use anyhow::Context;
use serde_json::Value;

use super::net::client;
use super::{free_port, wait_for, Proc};

/// Its configuration: without a default receiver Alertmanager exits at once, and a receiver
/// with no integrations keeps alerts without sending them anywhere.
const BLACKHOLE: &str = "route:\n  receiver: blackhole\nreceivers:\n  - name: blackhole\n";

/// An Alertmanager on a free loopback port with a do-nothing receiver; killed on drop. Blocking
/// (call [`Alertmanager::start`] through `spawn_blocking` from async tests).
#[derive(Debug)]
pub struct Alertmanager {
    /// The process.
    pub proc: Proc,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    _dir: tempfile::TempDir,
}

impl Alertmanager {
    /// Starts it and waits (20 s at most) until it is ready.
    pub fn start() -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let cfg = dir.path().join("am.yml");
        std::fs::write(&cfg, BLACKHOLE)?;
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
            proc: Proc::new(child, "alertmanager"),
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        wait_for(Duration::from_secs(20), "alertmanager ready", || {
            Ok(client()
                .get(format!("{}/-/ready", am.url))
                .send()?
                .status()
                .is_success())
        })?;
        Ok(am)
    }

    /// Its alerts (`GET /api/v2/alerts`), active and resolved.
    pub fn alerts(&self) -> anyhow::Result<Vec<Value>> {
        Ok(client()
            .get(format!("{}/api/v2/alerts", self.url))
            .send()?
            .error_for_status()?
            .json()?)
    }
}
