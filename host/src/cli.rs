//! The `hemiwatch` command line: argument types (clap) and one function per subcommand. This is
//! the edge of the program: errors become `anyhow` reports and exit statuses here.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

pub use crate::config::LogFormat;

use crate::sim::{self, Scenario, SimSeat};

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

/// Arguments of `hemiwatch sim`.
#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// Number of seats.
    #[arg(long, default_value_t = 577)]
    pub seats: u16,
    /// Id of the first seat (ids FIRST_ID..FIRST_ID+SEATS), so several simulated lines can
    /// share one daemon.
    #[arg(long, default_value_t = 1)]
    pub first_id: u16,
    /// How long to simulate: virtual seconds for a file, wall-clock seconds for a pty.
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Output: a file path, or `pty:PATH`.
    #[arg(long)]
    pub out: String,
    /// Random seed: the same seed gives the same capture.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// What the seats do (incidents go to the first seats of the range).
    #[arg(long, value_enum, default_value_t = SimScenario::Mixed)]
    pub scenario: SimScenario,
    /// Telemetry period in milliseconds.
    #[arg(long, default_value_t = crate::config::DEFAULT_PERIOD_MS as u64)]
    pub period_ms: u64,
    /// On a pty: bursts of random garbage injected between frames, per second (a babbling
    /// device on the RS-485 segment; each burst ends with a frame delimiter).
    #[arg(long, default_value_t = 0)]
    pub garbage_per_s: u32,
    /// Percentage of telemetry frames lost on the way (0–100; the host sees counter gaps).
    #[arg(long, default_value_t = 0.0)]
    pub loss_percent: f64,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon on a configuration file.
    ///
    /// Reads the configured lines, watches every seat, raises and delivers alerts, serves the
    /// dashboard. SIGTERM or Ctrl-C stops it cleanly (storage flushed and closed).
    #[command(after_help = "Exit status: 0 = stopped cleanly, 2 = invalid configuration, 1 = failure.")]
    Run {
        /// Configuration file; without it, the embedded default (a 577-seat hemicycle whose
        /// lines are /dev/serial/by-id/hemiwatch-concentrator-{a..h}, with PUBLIC demo keys).
        #[arg(long, env = "HEMIWATCH_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Run the daemon on a simulated 577-seat hemicycle, with its dashboard.
    ///
    /// The seats speak the real protocol over real ptys (one line per sector, ~72 seats per
    /// line), with scripted incidents: one seat heats up toward overheating, one goes silent
    /// then reboots, one has a noisy sensor. Prints the dashboard URL, the API token and the
    /// data directory. Ctrl-C stops it.
    Demo {
        /// Where the database and the ptys' links go (default: a new folder in the system's
        /// temporary directory).
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// Where the dashboard and API listen (default: the embedded config's `http_bind`, loopback only).
        #[arg(long)]
        http_bind: Option<std::net::SocketAddr>,
        /// API token for writes (acknowledge, silence); default: a new random one, printed.
        #[arg(long, env = "HEMIWATCH_TOKEN")]
        token: Option<String>,
        /// Random seed of the simulated seats.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Stop after this many seconds (default: run until Ctrl-C).
        #[arg(long)]
        seconds: Option<u64>,
    },
    /// Check a configuration file as `run` would read it (key files, api_token_env included).
    ///
    /// Prints every error as `FILE:LINE:COLUMN: error: SENTENCE` on stderr, or a one-line summary
    /// on stdout. Exit status: 0 valid, 2 invalid, 1 if the file cannot be read at all. Without
    /// FILE, checks the embedded default (the 577-seat hemicycle of `demo`).
    #[command(
        after_help = "Exit status: 0 = valid, 2 = invalid (errors printed), 1 = the file cannot be read."
    )]
    CheckConfig {
        /// The TOML file; omit to check the embedded default.
        file: Option<PathBuf>,
    },
    /// Replay recorded samples through the detectors, with the clock taken from the data.
    ///
    /// The CSV has the header `t_ms,seat,temp_centi`, one sample per row. Prints one JSON object
    /// per alert state change on stdout:
    /// `{"at_ms", "seat", "kind", "state": "firing"|"resolved", "predicted_critical_at_ms"}`.
    /// Thresholds come from the config's seats (default: the embedded hemicycle's).
    #[command(
        after_help = "Exit status: 0 = replayed, 2 = malformed CSV (FILE:LINE: error) or invalid configuration, 1 = unreadable file."
    )]
    Replay {
        /// The recorded samples.
        #[arg(long)]
        csv: PathBuf,
        /// Configuration whose seats' thresholds apply.
        #[arg(long, env = "HEMIWATCH_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Decode raw wire bytes (a capture) into one JSON object per frame on stdout.
    Decode {
        /// Capture file, or `-` for standard input.
        #[arg(default_value = "-")]
        input: String,
    },
    /// Simulate seats speaking the real protocol into a file or onto a pty.
    ///
    /// `--out pty:PATH` creates a pty and links PATH to it, for a daemon to read as a serial
    /// line.
    Sim(SimArgs),
    /// Print a running daemon's summary: seats per state, lines, firing alerts.
    Status {
        /// Where the daemon is.
        #[command(flatten)]
        api: ApiArgs,
    },
    /// Acknowledge an alert on a running daemon.
    Ack {
        /// Alert id (from `hemiwatch status` or the dashboard).
        alert_id: i64,
        /// Who acknowledges.
        #[arg(long, env = "USER", default_value = "technician")]
        by: String,
        /// Why.
        #[arg(long, default_value = "")]
        comment: String,
        /// Where the daemon is.
        #[command(flatten)]
        api: ApiArgs,
    },
}

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

/// Scenarios selectable from `hemiwatch sim`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SimScenario {
    /// Every seat healthy.
    Steady,
    /// Seat 1 heats up toward overheating; the rest are healthy.
    Runaway,
    /// Seat 1 goes silent for 10 s, then reboots.
    Silent,
    /// Seat 1 has a noisy, glitchy sensor.
    Noisy,
    /// All three incidents on seats 1, 2 and 3.
    Mixed,
    /// Every seat's sensor dies 3 s in (the seat then reports `SENSOR_FAULT`).
    SensorFault,
    /// An ordinary session: every console warms by 4–8 °C over ~10 minutes, one in 50 has a
    /// noisy, glitchy sensor; nothing is wrong.
    Day,
}

impl SimScenario {
    /// The scenario of one seat.
    pub fn for_seat(self, seat: u16) -> Scenario {
        let runaway = Scenario::Runaway {
            start_ms: 5_000,
            rate_c_per_min: 6.0,
        };
        let silent = Scenario::SilentThenReboot {
            at_ms: 10_000,
            for_ms: 10_000,
        };
        let noisy = Scenario::NoisySensor { sigma_c: 0.6 };
        let warming = Scenario::Warming {
            rise_c: 4.0 + f64::from(seat % 5),
            tau_min: 6.0 + f64::from(seat % 7),
        };
        match (self, seat) {
            (Self::SensorFault, _) => Scenario::SensorFails { at_ms: 3_000 },
            (Self::Day, s) if s % 50 == 25 => noisy,
            (Self::Day, _) => warming,
            (Self::Runaway, 1) | (Self::Mixed, 1) => runaway,
            (Self::Silent, 1) | (Self::Mixed, 2) => silent,
            (Self::Noisy, 1) | (Self::Mixed, 3) => noisy,
            _ => Scenario::Steady,
        }
    }
}

/// Runs the CLI; the binary's `main` calls only this.
pub fn main(cli: Cli) -> ExitCode {
    // The command line wins over the config file, which wins over the default.
    let configured = match &cli.command {
        Command::Run { config: Some(path) } => crate::config::load(path).ok().and_then(|c| c.log_format()),
        _ => None,
    };
    init_tracing(cli.log_format.or(configured).unwrap_or(LogFormat::Human));
    let result = match cli.command {
        Command::Run { config } => run_cmd(config.as_deref()),
        Command::Demo {
            data_dir,
            http_bind,
            token,
            seed,
            seconds,
        } => demo_cmd(data_dir, http_bind, token, seed, seconds),
        Command::CheckConfig { file } => Ok(check_config(file.as_deref())),
        Command::Replay { csv, config } => replay_cmd(&csv, config.as_deref()),
        Command::Decode { input } => decode(&input),
        Command::Sim(args) => sim_cmd(&args),
        Command::Status { api } => status(&api),
        Command::Ack {
            alert_id,
            by,
            comment,
            api,
        } => ack(&api, alert_id, &by, &comment),
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

fn run_cmd(config: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    let settings = match settings_of(config) {
        Ok(s) => s,
        Err(e) => return Ok(config_failed(&e)),
    };
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

fn replay_cmd(csv: &std::path::Path, config: Option<&std::path::Path>) -> anyhow::Result<ExitCode> {
    use std::io::Write;
    let settings = match settings_of(config) {
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
    let transitions = crate::replay::replay(&rows, |seat| {
        rules
            .get(&seat)
            .cloned()
            .unwrap_or_else(|| crate::detect::SeatRules::defaults(seat))
    });
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for t in &transitions {
        serde_json::to_writer(&mut out, t)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn demo_cmd(
    data_dir: Option<PathBuf>,
    http_bind: Option<std::net::SocketAddr>,
    token: Option<String>,
    seed: u64,
    seconds: Option<u64>,
) -> anyhow::Result<ExitCode> {
    use rand::Rng;
    let dir = match data_dir {
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
    if let Some(bind) = http_bind {
        settings.http_bind = bind;
    }
    let token = token.unwrap_or_else(|| hex::encode(rand::rng().random::<[u8; 16]>()));
    settings.api_token = Some(token.clone());
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let shutdown = tokio_util::sync::CancellationToken::new();
        stop_on_signals(shutdown.clone());
        if let Some(s) = seconds {
            let stop = shutdown.clone();
            tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_secs(s)).await;
                stop.cancel();
            });
        }
        let (lines, seats) = (settings.lines.len(), settings.seats.len());
        crate::demo::run(settings, &dir, seed, shutdown, |r, incidents| {
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

fn decode(input: &str) -> anyhow::Result<ExitCode> {
    let reader: Box<dyn Read> = if input == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(input).with_context(|| format!("cannot open {input}"))?)
    };
    let summary = match crate::decode::decode_stream(reader, std::io::stdout().lock()) {
        Ok(s) => s,
        // `hemiwatch decode cap.bin | head` closing the pipe is a normal way to stop.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        Err(e) => return Err(e.into()),
    };
    eprintln!("{} frames, {} errors", summary.frames, summary.errors);
    Ok(ExitCode::SUCCESS)
}

fn sim_cmd(a: &SimArgs) -> anyhow::Result<ExitCode> {
    let ids = || (0..a.seats).map(|i| a.first_id.saturating_add(i));
    let make = |now: u64| -> Vec<SimSeat> {
        ids()
            .map(|id| {
                let scenario = a.scenario.for_seat(id - a.first_id + 1);
                SimSeat::new(
                    id,
                    hemiwatch_protocol::demo_key(id),
                    scenario,
                    a.period_ms,
                    a.seed,
                    now,
                )
                .with_loss(a.loss_percent / 100.0)
            })
            .collect()
    };
    let (seats, seconds, out) = (a.seats, a.seconds, a.out.as_str());
    if let Some(link) = out.strip_prefix("pty:") {
        let runtime = tokio::runtime::Runtime::new()?;
        runtime.block_on(async {
            let shutdown = tokio_util::sync::CancellationToken::new();
            stop_on_signals(shutdown.clone());
            let (ctl, ctl_rx) = tokio::sync::mpsc::channel(16);
            let line = tokio::spawn(sim::run_pty_line(
                make(0),
                PathBuf::from(link),
                ctl_rx,
                shutdown.clone(),
            ));
            if a.garbage_per_s > 0 {
                let every = std::time::Duration::from_secs(1) / a.garbage_per_s;
                let seed = a.seed;
                tokio::spawn(async move {
                    use rand::{Rng, SeedableRng};
                    let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
                    loop {
                        tokio::time::sleep(every).await;
                        // Junk ends with the frame delimiter, as a babbling device's would:
                        // it costs the decoder one bad frame and corrupts no seat's frame.
                        let n = rng.random_range(1..24);
                        let mut junk: Vec<u8> = (0..n).map(|_| rng.random_range(1..=255)).collect();
                        junk.push(0);
                        if ctl.send(sim::LineControl::Inject(junk)).await.is_err() {
                            return;
                        }
                    }
                });
            }
            eprintln!("{seats} simulated seats on {link}");
            tokio::select! {
                _ = tokio::time::sleep(std::time::Duration::from_secs(seconds)) => {}
                _ = shutdown.cancelled() => {}
            }
            shutdown.cancel();
            line.await?.context("simulated line failed")
        })?;
        let _ = std::fs::remove_file(link);
    } else {
        let mut file = std::io::BufWriter::new(
            std::fs::File::create(out).with_context(|| format!("cannot create {out}"))?,
        );
        let mut sim_seats = make(0);
        let keys = ids().map(|id| (id, Some(hemiwatch_protocol::demo_key(id))));
        let bytes = sim::capture(&mut sim_seats, keys, seconds, &mut file)?;
        std::io::Write::flush(&mut file)?;
        eprintln!("wrote {bytes} bytes of {seats} seats × {seconds} s to {out}");
    }
    Ok(ExitCode::SUCCESS)
}

fn api_client() -> anyhow::Result<reqwest::blocking::Client> {
    Ok(reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(5))
        .no_proxy()
        .build()?)
}

/// Turns a non-2xx answer into an error carrying the API's own `{"error": ...}` sentence.
fn api_result(resp: reqwest::blocking::Response) -> anyhow::Result<serde_json::Value> {
    let status = resp.status();
    let body: serde_json::Value = resp.json().unwrap_or(serde_json::Value::Null);
    if status.is_success() {
        Ok(body)
    } else {
        let why = body.get("error").and_then(|e| e.as_str()).unwrap_or("no details");
        anyhow::bail!("the daemon answered {status}: {why}")
    }
}

fn status(api: &ApiArgs) -> anyhow::Result<ExitCode> {
    let url = format!("{}/api/status", api.url.trim_end_matches('/'));
    let resp = api_client()?
        .get(&url)
        .send()
        .with_context(|| format!("cannot reach the daemon at {}", api.url))?;
    let body = api_result(resp)?;
    println!("{}", serde_json::to_string_pretty(&body)?);
    Ok(ExitCode::SUCCESS)
}

fn ack(api: &ApiArgs, id: i64, by: &str, comment: &str) -> anyhow::Result<ExitCode> {
    let url = format!("{}/api/alerts/{id}/ack", api.url.trim_end_matches('/'));
    let mut req = api_client()?
        .post(&url)
        .json(&serde_json::json!({"by": by, "comment": comment}));
    if let Some(t) = &api.token {
        req = req.bearer_auth(t);
    }
    let resp = req
        .send()
        .with_context(|| format!("cannot reach the daemon at {}", api.url))?;
    let body = api_result(resp)?;
    println!("{}", serde_json::to_string_pretty(&body)?);
    Ok(ExitCode::SUCCESS)
}

/// `check-config`: 0 valid, 2 invalid, 1 unreadable (documented in its `--help`).
fn check_config(file: Option<&std::path::Path>) -> ExitCode {
    match crate::config::check(file) {
        Ok(summary) => {
            for w in &summary.warnings {
                eprintln!("{w}");
            }
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(errors) => config_failed(&errors),
    }
}
