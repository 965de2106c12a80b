//! `hemiwatch demo`: the real daemon watching a simulated hemicycle that speaks the real protocol
//! over real ptys — several lines, many seats per line, as behind RS-485 concentrators — with
//! scripted incidents so a newcomer sees every feature within a few minutes:
//! one seat heats up toward overheating (and cools once Hemiwatch orders its failover), one goes
//! silent then reboots, one has a noisy, glitchy sensor.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use hemiwatch_protocol::SeatId;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::config::Settings;
use crate::daemon::{self, DaemonError, Running};
use crate::sim::{run_pty_line, Scenario, SimSeat};
use crate::source::Endpoint;

/// The demo's incidents: which seat does what, chosen so they sit in different sectors.
#[derive(Clone, Debug, PartialEq)]
pub struct Incidents {
    /// Seat that heats up (from 20 s, 6 °C/min: predicted well before it reaches critical).
    pub heating: SeatId,
    /// Seat that goes silent at 45 s for 20 s, then reboots.
    pub silent: SeatId,
    /// Seat with a noisy sensor.
    pub noisy: SeatId,
}

impl Incidents {
    /// Picks three seats spread over the hemicycle.
    pub fn pick(seats: &[SeatId]) -> Self {
        let at = |f: usize| seats.get(seats.len() * f / 10).copied().unwrap_or(1);
        Self {
            heating: at(3),
            silent: at(6),
            noisy: at(8),
        }
    }

    /// The scenario of one seat.
    pub fn scenario(&self, seat: SeatId) -> Scenario {
        if seat == self.heating {
            Scenario::Runaway {
                start_ms: 20_000,
                rate_c_per_min: 6.0,
            }
        } else if seat == self.silent {
            Scenario::SilentThenReboot {
                at_ms: 45_000,
                for_ms: 20_000,
            }
        } else if seat == self.noisy {
            Scenario::NoisySensor { sigma_c: 0.6 }
        } else {
            Scenario::Steady
        }
    }
}

/// Errors that stop the demo.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// A pty or the data directory could not be created.
    #[error("cannot set up the simulated lines in {dir}: {source}")]
    Setup {
        /// Where.
        dir: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The daemon failed.
    #[error(transparent)]
    Daemon(#[from] DaemonError),
}

/// Points every line of `settings` at a pty linked under `dir/lines/`, starts the simulated seats
/// of each line on it, and runs the daemon until `shutdown`.
pub async fn run(
    mut settings: Settings,
    dir: &Path,
    seed: u64,
    shutdown: CancellationToken,
    on_start: impl FnOnce(&Running, &Incidents) + Send,
) -> Result<(), DemoError> {
    let lines_dir = dir.join("lines");
    std::fs::create_dir_all(&lines_dir).map_err(|source| DemoError::Setup {
        dir: lines_dir.clone(),
        source,
    })?;
    let ids: Vec<SeatId> = settings.seats.iter().map(|s| s.place.id).collect();
    let incidents = Incidents::pick(&ids);
    // Seats by line name; seats with no line go on the first line.
    let first = settings.lines.first().map(|l| l.name.clone()).unwrap_or_default();
    let mut by_line: BTreeMap<String, Vec<SimSeat>> = BTreeMap::new();
    for s in &settings.seats {
        let line = s.place.line.clone().unwrap_or_else(|| first.clone());
        let id = s.place.id;
        let key = s.key.clone().unwrap_or_else(|| hemiwatch_protocol::demo_key(id));
        by_line.entry(line).or_default().push(SimSeat::new(
            id,
            key,
            incidents.scenario(id),
            s.period_ms,
            seed,
            0,
        ));
    }
    let mut sims = Vec::new();
    let mut controls = Vec::new();
    for line in &mut settings.lines {
        let link = lines_dir.join(format!("line-{}", line.name));
        line.endpoint = Endpoint::Serial {
            path: link.clone(),
            baud: crate::config::DEFAULT_BAUD,
        };
        let seats = by_line.remove(&line.name).unwrap_or_default();
        let (ctl_tx, ctl_rx) = mpsc::channel(4);
        controls.push(ctl_tx);
        let task = tokio::spawn(run_pty_line(seats, link.clone(), ctl_rx, shutdown.child_token()));
        // The daemon opens the link as a serial device: wait until the simulator created it.
        while !link.exists() {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        sims.push(task);
    }
    let result = daemon::run(settings, shutdown.clone(), |r| on_start(r, &incidents)).await;
    shutdown.cancel();
    for s in sims {
        match s.await {
            Ok(Err(e)) => tracing::warn!(error = %e, "simulated line stopped with an error"),
            Err(e) => tracing::warn!(error = %e, "simulated line panicked"),
            Ok(Ok(())) => {}
        }
    }
    drop(controls);
    Ok(result?)
}
