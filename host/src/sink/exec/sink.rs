//! Exec sink: runs a local program with the alert's fields as environment variables — the
//! simplest way to drive a relay that switches a console to its standby, or a site's own pager.
//!
//! The hook starts with an empty environment: the alert's `HEMIWATCH_ALERT_*` variables and the
//! daemon's variables the config names (`env = ["PATH"]`), nothing else — the daemon's
//! environment may hold the API token (`api_token_env`), which a hook must never see.

use std::time::Duration;

use crate::sink::{DeliveryError, Notification};

/// Prefix of the variables describing the alert.
pub(crate) const ALERT_PREFIX: &str = "HEMIWATCH_ALERT_";

/// Runs `command` (no shell) once per notification.
#[derive(Clone, Debug)]
pub struct ExecSink {
    command: String,
    timeout: Duration,
    /// Names of the daemon's variables passed on.
    pass: Vec<String>,
}

impl ExecSink {
    /// A sink running `command` with at most `timeout` per run.
    pub fn new(command: impl Into<String>, timeout: Duration) -> Self {
        Self {
            command: command.into(),
            timeout,
            pass: Vec::new(),
        }
    }

    /// Also passes the daemon's variables `names` (those set) to the hook.
    pub fn passing(mut self, names: Vec<String>) -> Self {
        self.pass = names;
        self
    }

    /// The environment the hook sees (`HEMIWATCH_ALERT_*`); absent fields are empty strings.
    pub fn environment(n: &Notification) -> Vec<(&'static str, String)> {
        let opt = |v: Option<String>| v.unwrap_or_default();
        vec![
            ("HEMIWATCH_ALERT_ID", n.id.to_string()),
            ("HEMIWATCH_ALERT_KIND", n.kind.name().to_owned()),
            ("HEMIWATCH_ALERT_SEVERITY", n.kind.severity().name().to_owned()),
            ("HEMIWATCH_ALERT_STATE", n.state.name().to_owned()),
            ("HEMIWATCH_ALERT_SEAT", opt(n.seat.map(|s| s.to_string()))),
            ("HEMIWATCH_ALERT_LABEL", opt(n.label.clone())),
            ("HEMIWATCH_ALERT_SECTOR", opt(n.sector.clone())),
            ("HEMIWATCH_ALERT_LINE", opt(n.line.clone())),
            ("HEMIWATCH_ALERT_SUMMARY", n.summary.clone()),
            ("HEMIWATCH_ALERT_STARTED_AT_MS", n.started_at_ms.to_string()),
            (
                "HEMIWATCH_ALERT_RESOLVED_AT_MS",
                opt(n.resolved_at_ms.map(|t| t.to_string())),
            ),
            (
                "HEMIWATCH_ALERT_PREDICTED_CRITICAL_AT_MS",
                opt(n.predicted_critical_at_ms.map(|t| t.to_string())),
            ),
        ]
    }

    /// One run; exit status 0 is success, anything else (or the timeout) is retried.
    pub async fn deliver(&self, n: &Notification) -> Result<(), DeliveryError> {
        let mut cmd = tokio::process::Command::new(&self.command);
        cmd.env_clear()
            .envs(
                self.pass
                    .iter()
                    .filter_map(|k| std::env::var_os(k).map(|v| (k.clone(), v))),
            )
            .envs(Self::environment(n))
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true);
        let child = cmd.status();
        match tokio::time::timeout(self.timeout, child).await {
            Err(_) => Err(DeliveryError::Exec(format!(
                "{} timed out after {:?}",
                self.command, self.timeout
            ))),
            Ok(Err(e)) => Err(DeliveryError::Exec(format!("cannot run {}: {e}", self.command))),
            Ok(Ok(status)) if status.success() => Ok(()),
            Ok(Ok(status)) => Err(DeliveryError::Exec(format!(
                "{} exited with {status}",
                self.command
            ))),
        }
    }
}
