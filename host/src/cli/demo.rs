//! `hemiwatch demo`: the daemon on the embedded 577-seat hemicycle, its lines served by
//! simulated seats (the firmware core on ptys) with scripted incidents.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::{config_failed, stop_on_signals};

/// Arguments of `hemiwatch demo`.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Where the database and the ptys' links go (default: a new folder in the system's
    /// temporary directory).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Where the dashboard and API listen (default: the embedded config's `http_bind`, loopback only).
    #[arg(long)]
    pub http_bind: Option<std::net::SocketAddr>,
    /// API token for writes (acknowledge, silence); default: a new random one, printed.
    #[arg(long, env = "HEMIWATCH_TOKEN")]
    pub token: Option<String>,
    /// Random seed of the simulated seats.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long)]
    pub seconds: Option<u64>,
}

/// Runs the demo until Ctrl-C (or `--seconds`), printing the dashboard URL, the API token, the
/// data folder and the scripted incidents first.
pub fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    use rand::Rng;
    let dir = match args.data_dir {
        Some(d) => d,
        None => std::env::temp_dir().join(format!("hemiwatch-demo-{}", std::process::id())),
    };
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut config = crate::config::Config::embedded_default();
    config.set_data_dir(&dir);
    let mut settings = match config.resolve() {
        Ok(s) => s,
        Err(e) => return Ok(config_failed(&e)),
    };
    if let Some(bind) = args.http_bind {
        settings.http_bind = bind;
    }
    let token = args
        .token
        .unwrap_or_else(|| hex::encode(rand::rng().random::<[u8; 16]>()));
    settings.api_token = Some(token.clone());
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let shutdown = tokio_util::sync::CancellationToken::new();
        stop_on_signals(shutdown.clone());
        if let Some(s) = args.seconds {
            let stop = shutdown.clone();
            tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_secs(s)).await;
                stop.cancel();
            });
        }
        let (lines, seats) = (settings.lines.len(), settings.seats.len());
        crate::demo::run(settings, &dir, args.seed, shutdown, |r, incidents| {
            println!("Hemiwatch demo: {seats} simulated seats on {lines} lines (real protocol over ptys)");
            println!("  dashboard: http://{}/", r.http_addr);
            println!("  API token: {token}   (acknowledge and silence alerts)");
            println!("  data:      {}", dir.display());
            println!(
                "  incidents: seat {} heats up from 20 s; seat {} goes silent at 45 s for 20 s, then reboots; seat {} has a noisy sensor",
                incidents.heating, incidents.silent, incidents.noisy
            );
            println!("Ctrl-C stops the demo.");
        })
        .await
    })?;
    Ok(ExitCode::SUCCESS)
}
