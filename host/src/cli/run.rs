//! `hemiwatch run`: the daemon on a configuration file, until SIGTERM or Ctrl-C.

use std::path::PathBuf;
use std::process::ExitCode;

use super::{config_failed, settings_of, stop_on_signals};

/// Arguments of `hemiwatch run`.
#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// Configuration file; without it, the embedded default (a 577-seat hemicycle whose
    /// lines are /dev/serial/by-id/hemiwatch-concentrator-{a..h}, with PUBLIC demo keys).
    #[arg(long, env = "HEMIWATCH_CONFIG")]
    pub config: Option<PathBuf>,
    /// Run even with demo, duplicated or all-zero seat keys (anyone could forge those seats'
    /// frames): for demonstrations and test rigs only.
    #[arg(long)]
    pub allow_demo_keys: bool,
}

/// Resolves the settings (every configuration error at once, exit status 2), refuses weak seat
/// keys (exit status 2) unless `--allow-demo-keys`, and runs the daemon
/// until a signal stops it; storage is flushed and closed before this returns.
pub fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    let settings = match settings_of(args.config.as_deref()) {
        Ok(s) => s,
        Err(e) => return Ok(config_failed(&e)),
    };
    let weak = crate::config::audit_keys(
        settings
            .seats
            .iter()
            .filter_map(|s| s.key.as_ref().map(|k| (s.place.id, k))),
    );
    if !weak.is_empty() {
        if !args.allow_demo_keys {
            for w in &weak {
                eprintln!("hemiwatch: error: {w}");
            }
            eprintln!("hemiwatch: refusing to run with weak seat keys: generate real ones with `hemiwatch keys generate` and point [hemicycle] key_dir at them (or pass --allow-demo-keys for a demonstration)");
            return Ok(ExitCode::from(2));
        }
        for w in &weak {
            tracing::warn!("{w} (allowed by --allow-demo-keys)");
        }
    }
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let shutdown = tokio_util::sync::CancellationToken::new();
        stop_on_signals(shutdown.clone());
        let (lines, seats) = (settings.lines.len(), settings.seats.len());
        let database = settings.database.clone();
        crate::daemon::run(settings, shutdown, |r| {
            tracing::info!(
                lines,
                seats,
                database = %database.display(),
                dashboard = %format!("http://{}/", r.http_addr),
                "hemiwatch running"
            );
        })
        .await
    })?;
    Ok(ExitCode::SUCCESS)
}
