//! The simulated hemicycle: seats that run the real firmware core and speak the real protocol
//! over real ptys (for `demo`, the integration tests and `sim`), or into a capture file.
//!
//! Several seats share one line, as behind an RS-485 concentrator: a line task owns one pty and
//! its seats, writes their frames and routes the host's frames to the seat they address
//! ([`Downlink`]).
//!
//! - `seat`: one seat ([`SimSeat`]) — `hemiwatch_firmware::Seat` on an in-memory UART and
//!   TMP105, and a [`Scenario`];
//! - [`thermal`]: the one thermal model, and the trace suites of the detector benchmarks;
//! - `tmp105`: the in-memory TMP105 the firmware's driver reads;
//! - `pty`: pseudo-terminals as serial lines.

mod pty;
mod seat;
pub mod thermal;
mod tmp105;

use std::io::Write;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use hemiwatch_protocol::{FrameDecoder, SeatId, SeatKey, MAX_WIRE};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How a seat paces its `Hello`s and when it considers the host lost: the firmware's, since the
/// simulated seats run the firmware.
pub use hemiwatch_firmware::seat::{HELLO_RETRY_MS, HOST_TIMEOUT_MS};
pub use pty::PtyMaster;
pub use seat::{Scenario, SimSeat};
pub use tmp105::SimTmp105;

use crate::ingest::{Ingest, IngestEvent};

/// How often a live line wakes up to let its seats send what is due.
const TICK: Duration = Duration::from_millis(10);

/// Fault injection on a live simulated line (used by the tests and the demo's incidents).
#[derive(Debug)]
pub enum LineControl {
    /// Close the pty pair (the daemon sees the line vanish) and open a new one after `for_ms`,
    /// re-pointing the line's symlink: an unplugged and replugged USB adapter.
    Unplug {
        /// Downtime.
        for_ms: u64,
    },
    /// Write raw bytes on the line (line noise, an attacker's frames).
    Inject(Vec<u8>),
}

/// The concentrator's side of a line: cuts the host's byte stream into frames and hands each
/// frame's wire bytes to the seat it addresses (the firmware decodes and verifies them itself).
/// Bytes that are not a frame reach no seat.
#[derive(Debug, Default)]
pub struct Downlink {
    pending: Vec<u8>,
    overlong: bool,
}

impl Downlink {
    /// A downlink with nothing pending.
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets a partial frame (the line was unplugged).
    pub fn reset(&mut self) {
        self.pending.clear();
        self.overlong = false;
    }

    /// Routes `bytes` (any chunking) to `seats` at `now_ms`; their answers go to `out`.
    pub fn feed(&mut self, bytes: &[u8], seats: &mut [SimSeat], now_ms: u64, out: &mut Vec<u8>) {
        for &b in bytes {
            if !self.overlong {
                self.pending.push(b);
            }
            if b != 0 {
                if self.pending.len() > MAX_WIRE {
                    // Longer than any frame: drop it up to the next delimiter.
                    self.pending.clear();
                    self.overlong = true;
                }
                continue;
            }
            self.overlong = false;
            let mut addressee = None;
            FrameDecoder::<MAX_WIRE>::new().feed(&self.pending, |f| {
                if let Ok(f) = f {
                    addressee = Some(f.header.seat);
                }
            });
            if let Some(seat) = addressee.and_then(|id| seats.iter_mut().find(|s| s.id() == id)) {
                seat.on_wire(&self.pending, now_ms, out);
            }
            self.pending.clear();
        }
    }
}

/// Runs simulated seats on one pty, linked at `link`, until `shutdown`.
pub async fn run_pty_line(
    mut seats: Vec<SimSeat>,
    link: PathBuf,
    mut control: mpsc::Receiver<LineControl>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let epoch = Instant::now();
    let now_ms = move || epoch.elapsed().as_millis() as u64;
    let mut pty = PtyMaster::open(Some(&link))?;
    let mut downlink = Downlink::new();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut rbuf = vec![0u8; 1024];
    let mut out = Vec::with_capacity(4096);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tick.tick() => {
                let now = now_ms();
                for seat in &mut seats {
                    seat.poll(now, &mut out);
                }
            }
            r = pty.read(&mut rbuf) => {
                let n = r?;
                downlink.feed(&rbuf[..n], &mut seats, now_ms(), &mut out);
            }
            Some(c) = control.recv() => match c {
                LineControl::Inject(bytes) => out.extend_from_slice(&bytes),
                LineControl::Unplug { for_ms } => {
                    drop(pty);
                    tokio::time::sleep(Duration::from_millis(for_ms)).await;
                    pty = PtyMaster::open(Some(&link))?;
                    downlink.reset();
                    out.clear();
                }
            },
        }
        if !out.is_empty() {
            pty.write_all(&out).await?;
            out.clear();
        }
    }
}

/// Simulates `seconds` of seats into `writer` as fast as possible, with an in-process host core
/// answering their `Hello`s, so the capture holds what a line carries: handshakes, then telemetry.
/// Returns the number of bytes written.
pub fn capture(
    seats: &mut [SimSeat],
    keys: impl IntoIterator<Item = (SeatId, Option<SeatKey>)>,
    seconds: u64,
    writer: &mut impl Write,
) -> std::io::Result<u64> {
    let mut host = Ingest::new(keys);
    let mut decoder = FrameDecoder::<MAX_WIRE>::new();
    let mut downlink = Downlink::new();
    let mut total = 0u64;
    let mut uplink = Vec::new();
    let mut outputs = Vec::new();
    for now in (0..=seconds * 1000).step_by(10) {
        for seat in seats.iter_mut() {
            seat.poll(now, &mut uplink);
        }
        host.tick(now, &mut outputs);
        if uplink.is_empty() && outputs.is_empty() {
            continue;
        }
        writer.write_all(&uplink)?;
        total += uplink.len() as u64;
        decoder.feed(&uplink, |f| {
            if let Ok(f) = f {
                host.on_frame(0, &f.to_owned(), now, &mut outputs);
            }
        });
        uplink.clear();
        for o in outputs.drain(..) {
            if let IngestEvent::Send { bytes, .. } = o {
                // The seats' answers (acks) go out with the next step.
                downlink.feed(&bytes, seats, now, &mut uplink);
            }
        }
    }
    writer.write_all(&uplink)?;
    total += uplink.len() as u64;
    Ok(total)
}
