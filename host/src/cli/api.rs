//! The running daemon's HTTP API as the `status` and `ack` subcommands reach it: where it is,
//! and an answer that is either its body or an error carrying the daemon's own sentence.

use anyhow::Context;

/// Where a running daemon's API is, for `status` and `ack`.
#[derive(Debug, clap::Args)]
pub struct ApiArgs {
    /// Base URL of the daemon's HTTP API.
    #[arg(long, env = "HEMIWATCH_URL", default_value_t = crate::config::defaults::default_api_url())]
    pub url: String,
    /// Bearer token for writes.
    #[arg(long, env = "HEMIWATCH_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

impl ApiArgs {
    /// The URL of `path` (which starts with `/api/`) on this daemon.
    pub fn url_of(&self, path: &str) -> String {
        format!("{}{path}", self.url.trim_end_matches('/'))
    }

    /// Sends `req` and returns the daemon's JSON body; "cannot reach" and "the daemon said no"
    /// are different errors, the second with the API's `{"error": …}` sentence.
    pub fn send(&self, req: reqwest::blocking::RequestBuilder) -> anyhow::Result<serde_json::Value> {
        let resp = req
            .send()
            .with_context(|| format!("cannot reach the daemon at {}", self.url))?;
        let status = resp.status();
        let body: serde_json::Value = resp.json().unwrap_or(serde_json::Value::Null);
        if status.is_success() {
            Ok(body)
        } else {
            let why = body.get("error").and_then(|e| e.as_str()).unwrap_or("no details");
            anyhow::bail!("the daemon answered {status}: {why}")
        }
    }
}

/// A client for one command: a short timeout (a daemon that does not answer in 5 s is in
/// trouble, and the technician should hear so) and no proxy (the daemon is on the local network).
pub fn client() -> anyhow::Result<reqwest::blocking::Client> {
    Ok(reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .no_proxy()
        .build()?)
}
