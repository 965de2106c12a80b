//! The simulated hemicycle: seats that run the real firmware core and speak the real protocol
//! over real ptys (for `demo`, the integration tests and `sim`), or into a capture file.
//!
//! Several seats share one line, as on one RS-485 segment: a line task owns one pty and its
//! seats, which hear every byte of the line ([`wire`]) and speak only in their turns after the
//! host's beacons (the firmware's bus access; without a host beaconing they stay silent).
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
use std::time::Duration;

use hemiwatch_protocol::bus::{FrameSizes, Plan};
use hemiwatch_protocol::{FrameDecoder, SeatId, SeatKey, MAX_WIRE};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// When a seat considers its host lost (no beacon): the firmware's, since the simulated seats run
/// the firmware.
pub use hemiwatch_firmware::seat::HOST_TIMEOUT_MS;
pub use pty::PtyMaster;
pub use seat::{Scenario, SimSeat};
pub use tmp105::SimTmp105;

use crate::ingest::{Ingest, IngestEvent};
use crate::source::{LineBus, Queued};

/// A live line wakes at least this often (physics, power-on, reboots), and otherwise at the
/// earliest seat deadline (a turn, a sample).
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
    /// Write raw bytes on the line (line noise, an attacker's frames); the seats hear them too.
    Inject(Vec<u8>),
}

/// The simulated seats of one line on their shared wire: every seat hears every byte, the host's
/// and the other seats' (the firmware keeps what is for it), so the seats follow the bus scheme
/// ([`hemiwatch_protocol::bus`]) exactly as boards on one RS-485 segment do. A seat does not hear
/// its own transmission (RE̅ tied to DE). The wire is instantaneous: a frame is heard at the
/// instant it is sent, so within one instant seats are polled in id order and each frame reaches
/// the others before they are asked whether their turn has come.
pub mod wire {
    use super::SimSeat;

    /// Sorts a line's seats into turn order (seat id).
    pub fn sort(seats: &mut [SimSeat]) {
        seats.sort_by_key(SimSeat::id);
    }

    /// Bytes from the host (or noise) at `now_us`, heard by every seat; what the seats send
    /// meanwhile is appended to `out`.
    pub fn hear(seats: &mut [SimSeat], bytes: &[u8], now_us: u64, out: &mut Vec<u8>) {
        for i in 0..seats.len() {
            let mut tx = Vec::new();
            seats[i].on_wire(bytes, now_us, &mut tx);
            spread(seats, i, tx, now_us, out);
        }
    }

    /// Runs every seat that is due at `now_us` (a turn, a sample, power); what they send is
    /// appended to `out`. Seats not due are left alone: polling them would change nothing, and
    /// a line of 72 seats wakes a few hundred times a second.
    pub fn poll(seats: &mut [SimSeat], now_us: u64, out: &mut Vec<u8>) {
        for i in 0..seats.len() {
            if seats[i].next_wakeup(now_us) > now_us {
                continue;
            }
            let mut tx = Vec::new();
            seats[i].poll(now_us, &mut tx);
            spread(seats, i, tx, now_us, out);
        }
    }

    /// The earliest instant any seat must run again.
    pub fn next_wakeup(seats: &[SimSeat], now_us: u64) -> u64 {
        seats
            .iter()
            .map(|s| s.next_wakeup(now_us))
            .min()
            .unwrap_or(u64::MAX)
    }

    /// Seat `from` sent `tx`: it goes on the line and every other seat awaiting a turn hears it
    /// (the others gain nothing from another seat's frame: it carries no command and restarts
    /// no wait of theirs).
    fn spread(seats: &mut [SimSeat], from: usize, tx: Vec<u8>, now_us: u64, out: &mut Vec<u8>) {
        if tx.is_empty() {
            return;
        }
        out.extend_from_slice(&tx);
        let mut pending = vec![(from, tx)];
        while let Some((from, tx)) = pending.pop() {
            for (j, seat) in seats.iter_mut().enumerate() {
                if j == from || !seat.awaiting_turn() {
                    continue;
                }
                let mut again = Vec::new();
                seat.on_wire(&tx, now_us, &mut again);
                if !again.is_empty() {
                    out.extend_from_slice(&again);
                    pending.push((j, again));
                }
            }
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
    let epoch = tokio::time::Instant::now();
    let now_us = move || epoch.elapsed().as_micros() as u64;
    wire::sort(&mut seats);
    let mut pty = PtyMaster::open(Some(&link))?;
    let mut rbuf = vec![0u8; 1024];
    let mut out = Vec::with_capacity(4096);
    loop {
        let now = now_us();
        let wake = wire::next_wakeup(&seats, now).clamp(now, now + TICK.as_micros() as u64);
        let deadline = epoch + Duration::from_micros(wake);
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = tokio::time::sleep_until(deadline) => wire::poll(&mut seats, now_us(), &mut out),
            r = pty.read(&mut rbuf) => {
                let n = r?;
                wire::hear(&mut seats, &rbuf[..n], now_us(), &mut out);
            }
            Some(c) = control.recv() => match c {
                LineControl::Inject(bytes) => {
                    out.extend_from_slice(&bytes);
                    wire::hear(&mut seats, &bytes, now_us(), &mut out);
                }
                LineControl::Unplug { for_ms } => {
                    drop(pty);
                    tokio::time::sleep(Duration::from_millis(for_ms)).await;
                    pty = PtyMaster::open(Some(&link))?;
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
/// answering their `Hello`s and beaconing the line ([`LineBus`], one round period of the seats'
/// configured period), so the capture holds what the seats put on the line: handshakes, then
/// telemetry. Returns the number of bytes written.
pub fn capture(
    seats: &mut [SimSeat],
    keys: impl IntoIterator<Item = (SeatId, Option<SeatKey>)>,
    seconds: u64,
    writer: &mut impl Write,
) -> std::io::Result<u64> {
    let mut host = Ingest::new(keys);
    let mut decoder = FrameDecoder::<MAX_WIRE>::new();
    wire::sort(seats);
    let (Some(first), Some(last)) = (seats.first(), seats.last()) else {
        return Ok(0);
    };
    let period_ns = u64::from(first.firmware().config().period_ms) * 1_000_000;
    let plan = Plan::new(
        first.id(),
        last.id() - first.id() + 1,
        period_ns,
        crate::config::DEFAULT_BAUD,
        FrameSizes::MEASURED,
    )
    .map_err(|e| std::io::Error::other(format!("the simulated line cannot be scheduled: {e:?}")))?;
    for s in seats.iter() {
        host.set_period(s.id(), period_ns / 1_000_000);
    }
    let mut bus = LineBus::new(plan, 0, 1);
    let mut total = 0u64;
    let mut uplink = Vec::new();
    let mut outputs = Vec::new();
    let end = seconds * 1_000_000;
    let mut now = 0u64;
    while now <= end {
        let mut host_next = u64::MAX;
        match bus.poll(now * 1_000) {
            Ok(bytes) => wire::hear(seats, &bytes, now, &mut uplink),
            Err(at) => host_next = at.div_ceil(1_000),
        }
        wire::poll(seats, now, &mut uplink);
        if !uplink.is_empty() {
            writer.write_all(&uplink)?;
            total += uplink.len() as u64;
            bus.on_bytes(now * 1_000, &uplink);
            decoder.feed(&uplink, |f| {
                if let Ok(f) = f {
                    host.on_frame(0, &f.to_owned(), now / 1_000, &mut outputs);
                }
            });
            uplink.clear();
            for o in outputs.drain(..) {
                if let IngestEvent::Send { bytes, .. } = o {
                    if let Some(q) = Queued::from_wire(bytes) {
                        bus.enqueue(q);
                    }
                }
            }
        }
        let next = wire::next_wakeup(seats, now).min(host_next).min(now + 10_000);
        now = next.max(now + 1);
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use hemiwatch_protocol::MessageKind;

    use super::*;

    /// 72 seats powered on within one period share one line with an in-process host: every one of
    /// them gets its session and then speaks once per round period, in turn.
    #[test]
    fn a_shared_line_of_72_seats_settles_and_each_speaks_once_per_period() {
        let mut seats: Vec<SimSeat> = (1..=72)
            .map(|id| SimSeat::new(id, hemiwatch_protocol::demo_key(id), Scenario::Steady, 500, 9, 0))
            .collect();
        let keys = (1..=72).map(|id| (id, Some(hemiwatch_protocol::demo_key(id))));
        let mut cap = Vec::new();
        capture(&mut seats, keys, 20, &mut cap).unwrap();
        let mut per_seat: BTreeMap<SeatId, Vec<MessageKind>> = BTreeMap::new();
        let mut errors = 0;
        FrameDecoder::<MAX_WIRE>::new().feed(&cap, |f| match f {
            Ok(f) => per_seat.entry(f.header.seat).or_default().push(f.header.kind),
            Err(_) => errors += 1,
        });
        assert_eq!(errors, 0);
        assert_eq!(per_seat.len(), 72, "every seat spoke");
        for (id, kinds) in &per_seat {
            let t = kinds.iter().filter(|k| **k == MessageKind::Telemetry).count();
            // 20 s at 2 Hz, less the power-on storm's handshakes: 72 `Session`s at two per
            // round (6 rounds a second) take 6 s for the last seat.
            assert!(
                (26..=40).contains(&t),
                "seat {id}: {t} telemetry frames: {kinds:?}"
            );
        }
        assert!(seats.iter().all(|s| s.firmware().has_session()));
    }
}
