//! `hemiwatch sim`: seats running the firmware core and speaking the real protocol, into a
//! capture file (as fast as possible, with an in-process host answering) or onto a pty (in real
//! time, for a daemon to read as a serial line).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::ValueEnum;

use super::stop_on_signals;
use crate::sim::{self, Scenario, SimSeat};

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

/// Simulates the seats into the file, or onto the pty until `--seconds` or a signal.
pub fn run(a: &SimArgs) -> anyhow::Result<ExitCode> {
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
