//! Ports and bounded waits. Every wait in a test has a deadline and says what it waited for, so a
//! hang becomes a failure that names its cause.

use std::future::Future;
use std::time::{Duration, Instant};

/// How often a wait re-checks its condition: fast enough not to add latency to a test, slow
/// enough not to steal the CPU from what it waits for.
const POLL: Duration = Duration::from_millis(20);

/// A free loopback TCP port, for a process that takes its port on its command line
/// (Alertmanager, chromedriver, the daemon's config file). The port is released before the
/// process binds it, so another process could take it in between; in-process servers should
/// bind `127.0.0.1:0` themselves and read the port back instead.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// The end of a wait and what was awaited: the one implementation behind [`wait_for`] and
/// [`wait_until`], and usable by a test's own loop.
#[derive(Clone, Debug)]
pub struct Deadline {
    at: Instant,
    timeout: Duration,
    what: String,
}

impl Deadline {
    /// A deadline `timeout` from now for `what` (used in the error message).
    pub fn after(timeout: Duration, what: impl Into<String>) -> Self {
        Self {
            at: Instant::now() + timeout,
            timeout,
            what: what.into(),
        }
    }

    /// `Err` once the deadline has passed: "{what}: not within {timeout}".
    pub fn check(&self) -> anyhow::Result<()> {
        if Instant::now() > self.at {
            anyhow::bail!("{}: not within {:?}", self.what, self.timeout);
        }
        Ok(())
    }

    /// Time left (zero once passed).
    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }
}

/// Blocks until `cond` is true (an `Err` from it counts as "not yet"), checking every 20 ms; an
/// error naming `what` if `timeout` passes first. For blocking tests driving processes.
pub fn wait_for(
    timeout: Duration,
    what: &str,
    mut cond: impl FnMut() -> anyhow::Result<bool>,
) -> anyhow::Result<()> {
    let deadline = Deadline::after(timeout, what);
    loop {
        if cond().unwrap_or(false) {
            return Ok(());
        }
        deadline.check()?;
        std::thread::sleep(POLL);
    }
}

/// [`wait_for`] for async tests: awaits `cond` every 20 ms without blocking the runtime.
pub async fn wait_until<F, Fut>(timeout: Duration, what: &str, mut cond: F) -> anyhow::Result<()>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = anyhow::Result<bool>>,
{
    let deadline = Deadline::after(timeout, what);
    loop {
        if cond().await.unwrap_or(false) {
            return Ok(());
        }
        deadline.check()?;
        tokio::time::sleep(POLL).await;
    }
}

/// A blocking HTTP client without proxies (tests talk to loopback only; a proxy from the
/// environment would swallow the requests), 10 s per request.
pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .no_proxy()
        .build()
        .expect("HTTP client")
}
