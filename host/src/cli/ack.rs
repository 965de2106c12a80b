//! `hemiwatch ack`: acknowledge an alert on a running daemon, as the dashboard's button does.

use std::process::ExitCode;

use super::api::{client, ApiArgs};

/// Arguments of `hemiwatch ack`.
#[derive(Debug, clap::Args)]
pub struct AckArgs {
    /// Alert id (from `hemiwatch status` or the dashboard).
    pub alert_id: i64,
    /// Who acknowledges.
    #[arg(long, env = "USER", default_value = "technician")]
    pub by: String,
    /// Why.
    #[arg(long, default_value = "")]
    pub comment: String,
    /// Where the daemon is.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Posts the acknowledgement (with the token when given) and prints the alert as it now stands.
pub fn run(args: &AckArgs) -> anyhow::Result<ExitCode> {
    let url = args.api.url_of(&format!("/api/alerts/{}/ack", args.alert_id));
    let mut req = client()?
        .post(url)
        .json(&serde_json::json!({"by": args.by, "comment": args.comment}));
    if let Some(t) = &args.api.token {
        req = req.bearer_auth(t);
    }
    let body = args.api.send(req)?;
    println!("{}", serde_json::to_string_pretty(&body)?);
    Ok(ExitCode::SUCCESS)
}
