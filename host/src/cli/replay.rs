//! `hemiwatch replay`: recorded samples through the detectors and the alert engine, with the
//! clock taken from the data, one JSON line per alert state change and per failover order.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::{config_failed, settings_of};

/// Arguments of `hemiwatch replay`.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// The recorded samples.
    #[arg(long)]
    pub csv: PathBuf,
    /// Configuration whose seats' thresholds apply.
    #[arg(long, env = "HEMIWATCH_CONFIG")]
    pub config: Option<PathBuf>,
}

/// Replays the CSV: exit status 2 with `FILE:LINE: error: …` on a malformed row or an invalid
/// configuration, 1 when the file cannot be read.
pub fn run(args: &ReplayArgs) -> anyhow::Result<ExitCode> {
    let csv = &args.csv;
    let settings = match settings_of(args.config.as_deref()) {
        Ok(s) => s,
        Err(e) => return Ok(config_failed(&e)),
    };
    let file = std::fs::File::open(csv).with_context(|| format!("cannot read {}", csv.display()))?;
    let rows = match crate::replay::read_csv(std::io::BufReader::new(file)) {
        Ok(rows) => rows,
        Err(crate::replay::ReplayError::Malformed { line, message }) => {
            eprintln!("{}:{line}: error: {message}", csv.display());
            return Ok(ExitCode::from(2));
        }
        Err(e) => return Err(anyhow::Error::new(e).context(format!("cannot read {}", csv.display()))),
    };
    let rules: std::collections::HashMap<_, _> =
        settings.seats.iter().map(|s| (s.place.id, s.rules())).collect();
    let lines = crate::replay::replay_lines(&rows, |seat| {
        rules
            .get(&seat)
            .cloned()
            .unwrap_or_else(|| crate::detect::SeatRules::defaults(seat))
    });
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for t in &lines {
        serde_json::to_writer(&mut out, t)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
