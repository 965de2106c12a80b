//! `hemiwatch status`: a running daemon's summary (seats per state, lines, firing alerts).

use std::process::ExitCode;

use super::api::{client, ApiArgs};

/// Arguments of `hemiwatch status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Where the daemon is.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Prints `/api/status` as the daemon answers it.
pub fn run(args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let body = args.api.send(client()?.get(args.api.url_of("/api/status")))?;
    println!("{}", serde_json::to_string_pretty(&body)?);
    Ok(ExitCode::SUCCESS)
}
