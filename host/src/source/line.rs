//! One line's task: open the endpoint, cut the byte stream into frame bodies, run the line's bus
//! access as its active host ([`LineBus`]: beacons at the round openings, the queued commands
//! ahead of them), and when the line disappears (adapter unplugged, pty closed, socket reset)
//! retry with backoff until it returns — without disturbing any other line. Every byte read
//! feeds the bus schedule; commands from the daemon are queued, never written at once.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hemiwatch_protocol::{FrameDecoder, FrameError, OwnedFrame, MAX_WIRE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use super::{Endpoint, LineBus, Queued};

/// Index of a line in the config, used as its identity inside the daemon.
pub type LineId = usize;

/// First retry delay after a line fails; doubled up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(50);
/// Longest retry delay: a replugged line is re-read within this plus the open time, well inside
/// the 2 s the issue allows.
const MAX_BACKOFF: Duration = Duration::from_millis(800);
/// A command that cannot be written within this is dropped and the line reopened: a wedged
/// adapter must not block the daemon.
const WRITE_TIMEOUT: Duration = Duration::from_secs(1);

/// Shortest time between two epoch renewals of a line: a seat that keeps failing its MACs (or an
/// attacker forging them while withholding its frames) costs the line at most one re-handshake
/// (a round or two of telemetry) per this long.
pub const EPOCH_RENEWAL_MIN: Duration = Duration::from_secs(30);

/// What a line reports to the daemon.
#[derive(Debug)]
pub enum LineEvent {
    /// The line opened.
    Up {
        /// Which line.
        line: LineId,
    },
    /// The line closed or failed; it is being retried.
    Down {
        /// Which line.
        line: LineId,
        /// Why, for the technician.
        reason: String,
    },
    /// Frames read in one chunk (batched so 577 seats cost one channel message per read).
    Frames {
        /// Which line.
        line: LineId,
        /// Frames (CRC and layout checked, not yet authenticated), or the framing error that
        /// replaced one.
        frames: Vec<Result<OwnedFrame, FrameError>>,
    },
}

/// Counters of one line, shared with the metrics exporter.
#[derive(Debug, Default)]
pub struct LineCounters {
    /// Bytes read.
    pub bytes: AtomicU64,
    /// Bytes written (host commands, sessions, pings): on half-duplex RS-485 they share the
    /// line's capacity with what the seats send.
    pub bytes_out: AtomicU64,
    /// Frames cut from the stream (before verification).
    pub frames: AtomicU64,
    /// Framing errors (bad COBS, bad CRC, too long…).
    pub framing_errors: AtomicU64,
    /// Times the line was (re)opened.
    pub opens: AtomicU64,
    /// Whether the line is open now.
    pub up: AtomicBool,
}

/// The counters of one line at one instant, as `/api/status` and `/metrics` report them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct LineCountersSnapshot {
    /// Whether the line is open now.
    pub up: bool,
    /// Bytes read.
    pub bytes: u64,
    /// Bytes written.
    pub bytes_out: u64,
    /// Frames cut from the stream.
    pub frames: u64,
    /// Framing errors.
    pub framing_errors: u64,
    /// Times the line was (re)opened.
    pub opens: u64,
}

impl LineCounters {
    /// Reads every counter once: the one place readers turn these atomics into numbers.
    pub fn snapshot(&self) -> LineCountersSnapshot {
        let read = |c: &AtomicU64| c.load(Ordering::Relaxed);
        LineCountersSnapshot {
            up: self.up.load(Ordering::Relaxed),
            bytes: read(&self.bytes),
            bytes_out: read(&self.bytes_out),
            frames: read(&self.frames),
            framing_errors: read(&self.framing_errors),
            opens: read(&self.opens),
        }
    }
}

/// The daemon's handle on a running line.
#[derive(Clone, Debug)]
pub struct LineHandle {
    /// Index in the config.
    pub id: LineId,
    /// Name from the config.
    pub name: String,
    /// Where it reads from.
    pub endpoint: Endpoint,
    /// Downlink wire frames (commands, sessions) for the line's queue: written at the next
    /// round openings, `Failover` first.
    pub outbound: mpsc::Sender<Vec<u8>>,
    /// Its counters.
    pub counters: Arc<LineCounters>,
    /// Set by the daemon to start a new epoch on the line (a desynchronised seat must say Hello
    /// again, and beacons are all it hears); taken by the line task at its next wake-up.
    pub renew_epoch: Arc<AtomicBool>,
}

/// Runs a line until `shutdown`. Never returns an error: every failure becomes a `Down` event and
/// a retry, because a monitoring daemon that stops reading a line is worse than one that logs.
pub async fn run_line(
    handle: LineHandle,
    mut bus: LineBus,
    mut outbound: mpsc::Receiver<Vec<u8>>,
    events: mpsc::Sender<LineEvent>,
    shutdown: CancellationToken,
) {
    // The schedule's clock: monotonic, from the line task's start (bus times are durations).
    let origin = tokio::time::Instant::now();
    let line = handle.id;
    let mut backoff = MIN_BACKOFF;
    let mut logged_failure = false;
    loop {
        let opened = tokio::select! {
            _ = shutdown.cancelled() => return,
            r = handle.endpoint.open() => r,
        };
        let stream = match opened {
            Ok(s) => s,
            Err(e) => {
                // Log the first failure of an outage, not every retry.
                if !logged_failure {
                    tracing::warn!(line = %handle.name, error = %e, "line unavailable, retrying");
                    logged_failure = true;
                }
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        logged_failure = false;
        backoff = MIN_BACKOFF;
        handle.counters.opens.fetch_add(1, Ordering::Relaxed);
        handle.counters.up.store(true, Ordering::Relaxed);
        tracing::info!(line = %handle.name, endpoint = %handle.endpoint, "line up");
        if events.send(LineEvent::Up { line }).await.is_err() {
            return;
        }
        let reason = pump(
            &handle,
            stream,
            &mut bus,
            origin,
            &mut outbound,
            &events,
            &shutdown,
        )
        .await;
        handle.counters.up.store(false, Ordering::Relaxed);
        let Some(reason) = reason else { return };
        tracing::warn!(line = %handle.name, %reason, "line down, retrying");
        if events.send(LineEvent::Down { line, reason }).await.is_err() {
            return;
        }
    }
}

/// Moves bytes both ways until the stream fails (`Some(reason)`) or shutdown (`None`).
async fn pump(
    handle: &LineHandle,
    stream: std::pin::Pin<Box<dyn super::endpoint::ByteStream>>,
    bus: &mut LineBus,
    origin: tokio::time::Instant,
    outbound: &mut mpsc::Receiver<Vec<u8>>,
    events: &mpsc::Sender<LineEvent>,
    shutdown: &CancellationToken,
) -> Option<String> {
    let (mut rd, mut wr) = tokio::io::split(stream);
    let mut decoder = FrameDecoder::<MAX_WIRE>::new();
    let mut buf = vec![0u8; 4096];
    let now_ns = || origin.elapsed().as_nanos() as u64;
    let mut renewed: Option<tokio::time::Instant> = None;
    loop {
        if handle.renew_epoch.swap(false, Ordering::Relaxed)
            && renewed.is_none_or(|t| t.elapsed() >= EPOCH_RENEWAL_MIN)
        {
            renewed = Some(tokio::time::Instant::now());
            bus.renew_epoch();
            tracing::warn!(line = %handle.name, epoch = bus.epoch(), "new epoch: the line's seats say Hello again");
        }
        // Open a round when it is due: the queued commands and the beacon, one write.
        let wake = match bus.poll(now_ns()) {
            Ok(opening) => {
                match tokio::time::timeout(WRITE_TIMEOUT, wr.write_all(&opening)).await {
                    Ok(Ok(())) => {
                        handle
                            .counters
                            .bytes_out
                            .fetch_add(opening.len() as u64, Ordering::Relaxed);
                    }
                    Ok(Err(e)) => return Some(format!("write failed: {e}")),
                    Err(_) => return Some("write timed out".into()),
                }
                continue;
            }
            Err(at) => origin + std::time::Duration::from_nanos(at),
        };
        tokio::select! {
            _ = shutdown.cancelled() => return None,
            _ = tokio::time::sleep_until(wake) => {}
            r = rd.read(&mut buf) => {
                let n = match r {
                    Ok(0) => return Some("end of stream".into()),
                    Ok(n) => n,
                    Err(e) => return Some(format!("read failed: {e}")),
                };
                bus.on_bytes(now_ns(), &buf[..n]);
                handle.counters.bytes.fetch_add(n as u64, Ordering::Relaxed);
                let mut frames = Vec::new();
                decoder.feed(&buf[..n], |r| {
                    // Copying ≤ 64 bytes per frame beats sharing the decoder's buffer across tasks.
                    frames.push(r.map(|f| f.to_owned()));
                });
                if frames.is_empty() {
                    continue;
                }
                let errors = frames.iter().filter(|f| f.is_err()).count() as u64;
                handle.counters.frames.fetch_add(frames.len() as u64 - errors, Ordering::Relaxed);
                handle.counters.framing_errors.fetch_add(errors, Ordering::Relaxed);
                if events.send(LineEvent::Frames { line: handle.id, frames }).await.is_err() {
                    return None;
                }
            }
            Some(frame) = outbound.recv() => match Queued::from_wire(frame) {
                Some(q) => bus.enqueue(q),
                None => tracing::error!(line = %handle.name, "a downlink frame that is not one frame; dropped"),
            },
        }
    }
}
