//! The daemon in process, as `hemiwatch run` wires it, with its simulated pty lines: what the
//! integration tests and benches exercise without building or spawning the binary.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::config::{LineSettings, Settings};
use crate::daemon::{run, DaemonError, Running};
use crate::model::{LiveModel, SeatState};
use crate::source::Endpoint;

use super::{Deadline, SettingsBuilder};

/// How long a stopping daemon may take to flush and exit.
const STOP_WITHIN: Duration = Duration::from_secs(15);

/// A daemon running on the current tokio runtime, its simulated lines, and the temp dir holding
/// its database and ptys. Dropping it cancels everything; [`TestDaemon::stop`] also checks that
/// the daemon and the simulators ended cleanly.
pub struct TestDaemon {
    /// What the daemon exposes (live model, line handles, storage...).
    pub running: Running,
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub base: String,
    /// The API token writes need, if configured.
    pub token: Option<String>,
    settings: Settings,
    /// Stops the simulators (and the daemon, a child of it).
    shutdown: CancellationToken,
    /// Stops only the daemon (restart).
    daemon_stop: CancellationToken,
    task: JoinHandle<Result<(), DaemonError>>,
    sims: Vec<JoinHandle<std::io::Result<()>>>,
    dir: tempfile::TempDir,
}

impl TestDaemon {
    /// Starts the builder's pty lines (their seats on a pty each, in a fresh temp dir), then the
    /// daemon; returns once it is serving HTTP.
    pub async fn start(builder: SettingsBuilder) -> anyhow::Result<Self> {
        let dir = tempfile::tempdir()?;
        let shutdown = CancellationToken::new();
        let mut settings = builder.build(dir.path());
        let mut sims = Vec::new();
        for (name, seats) in builder.pty_lines {
            let link = dir.path().join(&name);
            // The control sender is dropped: these lines are never unplugged.
            let (_control, control_rx) = mpsc::channel(1);
            sims.push(tokio::spawn(crate::sim::run_pty_line(
                seats,
                link.clone(),
                control_rx,
                shutdown.clone(),
            )));
            let deadline = Deadline::after(Duration::from_secs(10), format!("pty of line {name}"));
            while !link.exists() {
                deadline.check()?;
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            let endpoint = Endpoint::parse(link.to_str().context("utf-8 temp path")?, 115_200)?;
            match settings.lines.iter_mut().find(|l| l.name == name) {
                Some(line) => line.endpoint = endpoint,
                None => settings.lines.push(LineSettings::new(name, endpoint)),
            }
        }
        let daemon_stop = shutdown.child_token();
        let (task, running) = spawn(settings.clone(), daemon_stop.clone()).await?;
        Ok(Self {
            base: format!("http://{}", running.http_addr),
            token: settings.api_token.clone(),
            running,
            settings,
            shutdown,
            daemon_stop,
            task,
            sims,
            dir,
        })
    }

    /// The live model.
    pub fn live(&self) -> &LiveModel {
        &self.running.live
    }

    /// The temp dir (database, ptys).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The URL of `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Waits until every configured seat satisfies `pred` (e.g. has sent telemetry and is `ok`).
    pub async fn wait_seats(
        &self,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&SeatState) -> bool,
    ) -> anyhow::Result<()> {
        let deadline = Deadline::after(timeout, what);
        loop {
            let (yes, total) = {
                let m = self.live().model.read().unwrap_or_else(|p| p.into_inner());
                (m.seats.values().filter(|s| pred(s)).count(), m.seats.len())
            };
            if yes == total {
                return Ok(());
            }
            deadline
                .check()
                .with_context(|| format!("only {yes}/{total} seats"))?;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Stops the daemon (on the same settings, database and HTTP port) and starts it again; the
    /// simulated lines keep running, as seats do when the server restarts.
    pub async fn restart(&mut self) -> anyhow::Result<()> {
        self.daemon_stop.cancel();
        join(&mut self.task).await?;
        self.settings.http_bind = self.running.http_addr;
        self.daemon_stop = self.shutdown.child_token();
        let (task, running) = spawn(self.settings.clone(), self.daemon_stop.clone()).await?;
        self.task = task;
        self.running = running;
        Ok(())
    }

    /// Stops everything; an error if the daemon does not stop within 15 s or fails, or a
    /// simulator fails.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        join(&mut self.task).await?;
        for sim in std::mem::take(&mut self.sims) {
            sim.await.context("simulator task")?.context("simulator")?;
        }
        Ok(())
    }
}

impl Drop for TestDaemon {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Runs the daemon on `settings` until `stop`; returns once `on_start` has reported it.
async fn spawn(
    settings: Settings,
    stop: CancellationToken,
) -> anyhow::Result<(JoinHandle<Result<(), DaemonError>>, Running)> {
    let (tx, mut rx) = mpsc::channel(1);
    let mut task = tokio::spawn(run(settings, stop, move |r| {
        let _ = tx.try_send(r.clone());
    }));
    match rx.recv().await {
        Some(running) => Ok((task, running)),
        None => {
            join(&mut task).await?;
            anyhow::bail!("the daemon exited before it started")
        }
    }
}

async fn join(task: &mut JoinHandle<Result<(), DaemonError>>) -> anyhow::Result<()> {
    tokio::time::timeout(STOP_WITHIN, task)
        .await
        .with_context(|| format!("daemon stops within {STOP_WITHIN:?}"))?
        .context("daemon task")?
        .context("daemon")
}
