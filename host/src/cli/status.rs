//! `hemiwatch status`: a running daemon's summary (seats per state, lines, firing alerts), for
//! people, or `/api/status` as the daemon answers it (`--json`), for scripts; the exit status
//! says whether anything is firing.

use std::fmt::Write as _;
use std::process::ExitCode;

use serde_json::Value;

use super::api::{client, ApiArgs};

/// Exit status when no alert is firing. (When the daemon cannot tell us — unreachable, refused,
/// an unreadable answer — `status` fails like every `hemiwatch` command: exit status 1.)
pub const NOTHING_FIRING: u8 = 0;
/// Exit status when at least one alert is firing.
pub const FIRING: u8 = 2;

/// Arguments of `hemiwatch status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Print `/api/status` as the daemon answers it (JSON), instead of the summary.
    #[arg(long)]
    pub json: bool,
    /// Where the daemon is.
    #[command(flatten)]
    pub api: ApiArgs,
}

/// Prints the summary (or the JSON) and exits 0 if nothing fires, 2 if something does; a
/// daemon that cannot be reached or answers something unreadable is an error (exit status 1).
pub fn run(args: &StatusArgs) -> anyhow::Result<ExitCode> {
    let body = args.api.send(client()?.get(args.api.url_of("/api/status")))?;
    let firing = body["alerts_firing"].as_array().ok_or_else(|| {
        anyhow::anyhow!(
            "the daemon at {} answered without `alerts_firing`: {body}",
            args.api.url
        )
    })?;
    let code = if firing.is_empty() { NOTHING_FIRING } else { FIRING };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&body)?);
    } else {
        print!("{}", summary(&args.api.url, &body));
    }
    Ok(ExitCode::from(code))
}

/// The summary of a `/api/status` answer: one line of seats per state, one of lines (and one
/// per line down), then each firing alert on its own line.
fn summary(url: &str, status: &Value) -> String {
    let mut out = String::new();
    let seats = status["seats"].as_u64().unwrap_or(0);
    let counts: Vec<String> = status["counts"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, n)| n.as_u64().unwrap_or(0) > 0)
        .map(|(state, n)| format!("{state} {n}"))
        .collect();
    let _ = writeln!(out, "hemiwatch at {url}");
    let _ = writeln!(out, "seats: {seats} ({})", counts.join(", "));
    let lines: Vec<&Value> = status["lines"].as_array().into_iter().flatten().collect();
    let down: Vec<&str> = lines
        .iter()
        .filter(|l| l["up"] != true)
        .filter_map(|l| l["name"].as_str())
        .collect();
    let _ = writeln!(out, "lines: {} up, {} down", lines.len() - down.len(), down.len());
    for name in &down {
        let _ = writeln!(out, "  down: {name}");
    }
    let firing: Vec<&Value> = status["alerts_firing"].as_array().into_iter().flatten().collect();
    if firing.is_empty() {
        let _ = writeln!(out, "firing alerts: none");
    } else {
        let _ = writeln!(out, "firing alerts: {}", firing.len());
    }
    for a in firing {
        let subject = match (a["seat"].as_u64(), a["line"].as_str()) {
            (Some(seat), _) => format!("seat {seat}"),
            (None, Some(line)) => format!("line {line}"),
            (None, None) => "-".into(),
        };
        let marks = match (a["ack"].is_object(), a["silenced"] == true) {
            (true, true) => " (acknowledged, silenced)",
            (true, false) => " (acknowledged)",
            (false, true) => " (silenced)",
            (false, false) => "",
        };
        let _ = writeln!(
            out,
            "  #{} {} {subject}{marks}: {}",
            a["id"],
            a["kind"].as_str().unwrap_or("?"),
            a["summary"].as_str().unwrap_or("")
        );
    }
    out
}
