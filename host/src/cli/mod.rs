//! The `hemiwatch` command line: one file per subcommand (its clap arguments and its `run`),
//! mini-redis style; this module only dispatches and holds what several commands share (signals,
//! configuration errors, logging). This is the edge of the program: errors become `anyhow`
//! reports and exit statuses here.

mod ack;
mod api;
mod check_config;
mod decode;
mod demo;
mod docs;
mod keys;
mod replay;
mod run;
mod sim;
mod status;

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use crate::config::LogFormat;
pub use sim::{SimArgs, SimScenario};

/// Hemiwatch: health monitor for the electronic voting consoles of a parliament hemicycle.
#[derive(Debug, Parser)]
#[command(name = "hemiwatch", version, about, long_about = None)]
pub struct Cli {
    /// Log format on stderr [default: the config's `[daemon] log_format`, else human].
    #[arg(long, global = true, value_enum)]
    pub log_format: Option<LogFormat>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands: each is a file of this folder with its arguments and its `run`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon on a configuration file.
    ///
    /// Reads the configured lines, watches every seat, raises and delivers alerts, serves the
    /// dashboard. SIGTERM or Ctrl-C stops it cleanly (storage flushed and closed).
    #[command(after_help = "Exit status: 0 = stopped cleanly, 2 = invalid configuration, 1 = failure.")]
    Run(run::RunArgs),
    /// Run the daemon on a simulated 577-seat hemicycle, with its dashboard.
    ///
    /// The seats speak the real protocol over real ptys (one line per sector, ~72 seats per
    /// line), with scripted incidents: one seat heats up toward overheating, one goes silent
    /// then reboots, one has a noisy sensor. Prints the dashboard URL, the API token and the
    /// data directory. Ctrl-C stops it.
    Demo(demo::DemoArgs),
    /// Check a configuration file as `run` would read it (key files, api_token_env included).
    ///
    /// Prints every error as `FILE:LINE:COLUMN: error: SENTENCE` on stderr, or a one-line summary
    /// on stdout. Exit status: 0 valid, 2 invalid, 1 if the file cannot be read at all. Without
    /// FILE, checks the embedded default (the 577-seat hemicycle of `demo`).
    #[command(
        after_help = "Exit status: 0 = valid, 2 = invalid (errors printed), 1 = the file cannot be read."
    )]
    CheckConfig(check_config::CheckConfigArgs),
    /// Replay recorded samples through the detectors, with the clock taken from the data.
    ///
    /// The CSV has the header `t_ms,seat,temp_centi`, one sample per row. Prints one JSON object
    /// per alert state change on stdout:
    /// `{"at_ms", "seat", "kind", "state": "firing"|"resolved", "predicted_critical_at_ms"}`.
    /// Thresholds come from the config's seats (default: the embedded hemicycle's).
    #[command(
        after_help = "Exit status: 0 = replayed, 2 = malformed CSV (FILE:LINE: error) or invalid configuration, 1 = unreadable file."
    )]
    Replay(replay::ReplayArgs),
    /// Decode raw wire bytes (a capture) into one JSON object per frame on stdout.
    Decode(decode::DecodeArgs),
    /// Simulate seats speaking the real protocol into a file or onto a pty.
    ///
    /// `--out pty:PATH` creates a pty and links PATH to it, for a daemon to read as a serial
    /// line.
    Sim(sim::SimArgs),
    /// Print a running daemon's summary: seats per state, lines up and down, firing alerts.
    ///
    /// One line of seats per state, one of lines (and one per line down), then each firing alert
    /// on its own line: `#ID KIND seat N|line NAME: SUMMARY`. `--json` prints `/api/status` as
    /// the daemon answers it, for scripts. The exit status says whether anything is firing.
    #[command(
        after_help = "Exit status: 0 = nothing firing, 2 = at least one alert firing, 1 = cannot tell (the daemon cannot be reached, refused, or answered something unreadable)."
    )]
    Status(status::StatusArgs),
    /// Acknowledge an alert on a running daemon.
    Ack(ack::AckArgs),
    /// Write the man pages and shell completions generated from this command line.
    ///
    /// Creates OUT/man (one page per command) and OUT/completions (bash, zsh, fish); the
    /// Debian package ships them.
    Docs(docs::DocsArgs),
    /// Generate seat keys, and write a seat's provisioning block for its board.
    Keys(keys::KeysArgs),
}

/// Runs the CLI; the binary's `main` calls only this.
pub fn main(cli: Cli) -> ExitCode {
    // The command line wins over the config file, which wins over the default.
    let configured = match &cli.command {
        Command::Run(run::RunArgs {
            config: Some(path), ..
        }) => crate::config::load(path).ok().and_then(|c| c.log_format()),
        _ => None,
    };
    init_tracing(cli.log_format.or(configured).unwrap_or(LogFormat::Human));
    let result = match cli.command {
        Command::Run(args) => run::run(&args),
        Command::Demo(args) => demo::run(args),
        Command::CheckConfig(args) => Ok(check_config::run(&args)),
        Command::Replay(args) => replay::run(&args),
        Command::Decode(args) => decode::run(&args),
        Command::Sim(args) => sim::run(&args),
        Command::Status(args) => status::run(&args),
        Command::Ack(args) => ack::run(&args),
        Command::Docs(args) => docs::run(&args),
        Command::Keys(args) => keys::run(&args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("hemiwatch: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Cancels `shutdown` on Ctrl-C or SIGTERM (what systemd sends), so both stop the daemon the
/// same graceful way.
fn stop_on_signals(shutdown: tokio_util::sync::CancellationToken) {
    tokio::spawn(async move {
        let term = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => tracing::info!("Ctrl-C: stopping"),
            _ = term => tracing::info!("SIGTERM: stopping"),
        }
        shutdown.cancel();
    });
}

/// Prints configuration errors (`FILE:LINE:COLUMN: error: SENTENCE`, then a count) on stderr;
/// exit status 2 for an invalid file, 1 for one that cannot be read at all.
fn config_failed(errors: &crate::config::ConfigErrors) -> ExitCode {
    eprintln!("{errors}");
    if errors.unreadable {
        return ExitCode::FAILURE;
    }
    eprintln!(
        "{} error{}: the configuration is invalid",
        errors.len(),
        if errors.len() == 1 { "" } else { "s" }
    );
    ExitCode::from(2)
}

/// The settings of a config file (text, key files and environment checked in one pass: every
/// error of the file at once), or of the embedded default without one.
fn settings_of(
    config: Option<&std::path::Path>,
) -> Result<crate::config::Settings, crate::config::ConfigErrors> {
    match config {
        Some(path) => crate::config::load_resolved(path).map(|(_, settings)| settings),
        None => crate::config::Config::embedded_default().resolve(),
    }
}

/// Logs on stderr, human or JSON, filtered by `HEMIWATCH_LOG` (default `info`).
fn init_tracing(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HEMIWATCH_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Human => builder.with_ansi(std::io::stderr().is_terminal()).try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
