//! A black-channel fault injector: sits between a seat's serial stream and the daemon's line and
//! applies one of the IEC 61784-3 communication faults to the uplink, frame by frame. The safety
//! layer (the protocol crate's CRC, MAC, counters and sessions) must detect every one of them.

use std::sync::atomic::{AtomicBool, AtomicU64};
use std::time::Duration;

use hemiwatch_protocol::{FrameDecoder, HostLink, SeatId, SeatKey, SeatLink, MAX_WIRE};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The faults of IEC 61784-3 §5.3 ("possible errors" of a black channel).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Pass everything unchanged (the control run).
    None,
    /// Flip one bit in some frames.
    Corruption,
    /// Deliver some frames twice.
    Repetition,
    /// Swap some pairs of consecutive frames.
    WrongSequence,
    /// Drop some frames.
    Loss,
    /// Hold the stream back (frames arrive late, in order).
    Delay,
    /// Insert bytes that are not a frame of this stream.
    Insertion,
    /// Insert frames that claim to be this seat but are MACed with another key.
    Masquerade,
    /// Re-address some genuine frames to another seat.
    WrongAddress,
}

impl Fault {
    /// Every fault, for a test that walks the list.
    pub const ALL: [Fault; 8] = [
        Self::Corruption,
        Self::Repetition,
        Self::WrongSequence,
        Self::Loss,
        Self::Delay,
        Self::Insertion,
        Self::Masquerade,
        Self::WrongAddress,
    ];
}

/// Cuts a byte stream into delimiter-terminated wire frames.
#[derive(Default)]
struct Cutter {
    partial: Vec<u8>,
}

impl Cutter {
    fn push(&mut self, bytes: &[u8], out: &mut Vec<Vec<u8>>) {
        for &b in bytes {
            self.partial.push(b);
            if b == 0 {
                out.push(std::mem::take(&mut self.partial));
            }
        }
    }
}

/// Rewrites a wire frame's seat address to `to` (re-encoding COBS and CRC so only the MAC can
/// tell), or returns it unchanged if it does not parse.
fn readdress(frame: &[u8], to: SeatId) -> Vec<u8> {
    let mut body = frame[..frame.len().saturating_sub(1)].to_vec();
    let Ok(n) = cobs::decode_in_place(&mut body) else {
        return frame.to_vec();
    };
    body.truncate(n);
    let Ok(raw) = hemiwatch_protocol::parse_body(&body) else {
        return frame.to_vec();
    };
    let kind = raw.header.kind as u32;
    let Ok((_, rest)) = postcard::take_from_bytes::<u32>(&body[1..]) else {
        return frame.to_vec();
    };
    let mut out = vec![body[0]];
    let mut addr = [0u8; 5];
    let Ok(a) = postcard::to_slice(&((u32::from(to) << 4) | kind), &mut addr) else {
        return frame.to_vec();
    };
    out.extend_from_slice(a);
    out.extend_from_slice(&rest[..rest.len() - 2]);
    let crc = crc::Crc::<u16>::new(&crc::CRC_16_IBM_SDLC).checksum(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    let mut wire = vec![0u8; cobs::max_encoding_length(out.len()) + 1];
    let len = cobs::encode(&out, &mut wire);
    wire.truncate(len);
    wire.push(0);
    wire
}

/// Counts of what the injector did, to compare with what the daemon counted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Injected {
    /// Frames passed through.
    pub passed: u64,
    /// Frames the fault was applied to (or inserted).
    pub faulted: u64,
}

/// The injector's settings.
#[derive(Clone, Debug)]
pub struct FaultPlan {
    /// Which fault.
    pub fault: Fault,
    /// Probability that a frame is faulted.
    pub rate: f64,
    /// The seat behind the proxy, for masquerade.
    pub seat: SeatId,
    /// Another configured seat, for wrong address.
    pub other_seat: SeatId,
    /// Seed of the injector's choices.
    pub seed: u64,
}

/// Which end of a proxied link closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closed {
    /// The seat (its emulator stopped).
    Seat,
    /// The daemon.
    Daemon,
}

/// Forwards `seat_side` ↔ `daemon_side` until either closes, applying `plan` to the uplink;
/// what it does is added to `shared` as it goes.
pub async fn run<S, D>(
    seat_side: S,
    daemon_side: D,
    plan: FaultPlan,
    shared: &std::sync::Mutex<Injected>,
) -> std::io::Result<Closed>
where
    S: AsyncRead + AsyncWrite + Unpin,
    D: AsyncRead + AsyncWrite + Unpin,
{
    let (mut seat_rd, mut seat_wr) = tokio::io::split(seat_side);
    let (mut dmn_rd, mut dmn_wr) = tokio::io::split(daemon_side);
    let mut rng = SmallRng::seed_from_u64(plan.seed);
    let mut cutter = Cutter::default();
    let mut held: Option<Vec<u8>> = None;
    let mut stats = shared.lock().map(|s| s.clone()).unwrap_or_default();
    // A seat with the wrong key, for masquerade frames.
    let mut impostor = SeatLink::new(plan.seat, &SeatKey([0xEE; 16]), 1);
    let mut impostor_host = HostLink::new(plan.seat, Some(&SeatKey([0xEE; 16])));
    let mut up = vec![0u8; 2048];
    let mut down = vec![0u8; 2048];
    loop {
        tokio::select! {
            r = seat_rd.read(&mut up) => {
                let n = r?;
                if n == 0 {
                    return Ok(Closed::Seat);
                }
                let mut frames = Vec::new();
                cutter.push(&up[..n], &mut frames);
                let mut out = Vec::new();
                for f in frames {
                    let hit = plan.fault != Fault::None && rng.random::<f64>() < plan.rate;
                    if !hit {
                        if let Some(h) = held.take() {
                            // WrongSequence: the held frame goes after its successor.
                            out.extend_from_slice(&f);
                            out.extend_from_slice(&h);
                        } else {
                            out.extend_from_slice(&f);
                        }
                        stats.passed += 1;
                        continue;
                    }
                    stats.faulted += 1;
                    match plan.fault {
                        Fault::None => out.extend_from_slice(&f),
                        Fault::Corruption => {
                            let mut c = f.clone();
                            let last = c.len().saturating_sub(2);
                            if last > 0 {
                                let i = rng.random_range(0..last);
                                c[i] ^= 1 << rng.random_range(0..8);
                            }
                            out.extend_from_slice(&c);
                        }
                        Fault::Repetition => {
                            out.extend_from_slice(&f);
                            out.extend_from_slice(&f);
                        }
                        Fault::WrongSequence => match held.take() {
                            Some(h) => {
                                out.extend_from_slice(&f);
                                out.extend_from_slice(&h);
                            }
                            None => held = Some(f),
                        },
                        Fault::Loss => {}
                        Fault::Delay => {
                            tokio::time::sleep(Duration::from_millis(rng.random_range(50..400))).await;
                            out.extend_from_slice(&f);
                        }
                        Fault::Insertion => {
                            out.extend_from_slice(&f);
                            let junk: Vec<u8> = (0..rng.random_range(3..40)).map(|_| rng.random_range(1..=255u8)).collect();
                            out.extend_from_slice(&junk);
                            out.push(0);
                        }
                        Fault::Masquerade => {
                            out.extend_from_slice(&f);
                            out.extend_from_slice(&masquerade(&mut impostor, &mut impostor_host));
                        }
                        Fault::WrongAddress => out.extend_from_slice(&readdress(&f, plan.other_seat)),
                    }
                }
                if let Ok(mut s) = shared.lock() {
                    *s = stats.clone();
                }
                dmn_wr.write_all(&out).await?;
            }
            r = dmn_rd.read(&mut down) => {
                let n = r?;
                if n == 0 {
                    return Ok(Closed::Daemon);
                }
                seat_wr.write_all(&down[..n]).await?;
            }
        }
    }
}

/// A serial line as the daemon sees it (`unix:LISTEN` in its config), with one seat behind it
/// (the QEMU UART socket at `seat`) through the fault injector. Like an RS-485 concentrator, the
/// line outlives its seat: when the seat's emulator stops, the daemon's connection stays open
/// (silence, not a dead port) and the seat is reconnected when it boots again; a daemon that
/// reconnects is accepted again. Runs until `shutdown`.
pub async fn serve_line(
    listen: std::path::PathBuf,
    seat: std::path::PathBuf,
    plan: FaultPlan,
    stats: std::sync::Arc<std::sync::Mutex<Injected>>,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::io::Result<()> {
    let listener = tokio::net::UnixListener::bind(&listen)?;
    let accept = || async {
        tokio::select! {
            r = listener.accept() => r.map(|(s, _)| Some(s)),
            _ = shutdown.cancelled() => Ok(None),
        }
    };
    let Some(mut daemon) = accept().await? else {
        return Ok(());
    };
    loop {
        let mut seat_stream = loop {
            if shutdown.is_cancelled() {
                return Ok(());
            }
            match tokio::net::UnixStream::connect(&seat).await {
                Ok(s) => break s,
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        };
        let closed = tokio::select! {
            r = run(&mut seat_stream, &mut daemon, plan.clone(), &stats) => r.unwrap_or(Closed::Seat),
            _ = shutdown.cancelled() => return Ok(()),
        };
        if closed == Closed::Daemon {
            let Some(d) = accept().await? else { return Ok(()) };
            daemon = d;
        }
    }
}

/// A keyless man-in-the-middle between one seat and the daemon (issue 12, item 14): the test
/// flips its switches while the line runs. With every switch off it forwards both directions
/// byte for byte, so it stays transparent to whatever the line carries (beacons included).
#[derive(Debug, Default)]
pub struct Mitm {
    /// Drop the seat's `Telemetry` and `Event` frames; everything else (its `Hello`s, its
    /// `Ack`s to the daemon's pings) goes through: what an attacker hiding a heating seat does.
    pub drop_telemetry: AtomicBool,
    /// Send the daemon the `Hello`s captured so far, one every [`MITM_REPLAY_MS`], in turn.
    pub replay_hellos: AtomicBool,
    /// Hold every uplink frame this long before forwarding it, in order (0: none).
    pub delay_ms: AtomicU64,
    /// Uplink frames dropped so far.
    pub dropped: AtomicU64,
    /// `Hello`s replayed so far.
    pub replayed: AtomicU64,
    /// Distinct `Hello`s captured so far.
    pub captured: AtomicU64,
    /// Connections made to the seat's UART (one per emulator start reached).
    pub seat_connects: AtomicU64,
    /// Uplink frames read from the seat, and downlink bytes written to it: what a test that
    /// fails prints, to tell a seat that never spoke from a daemon that never answered.
    pub uplink_frames: AtomicU64,
    /// See `uplink_frames`.
    pub downlink_bytes: AtomicU64,
    /// How the proxy's task ended, if it did (set by whoever runs it).
    pub ended: std::sync::Mutex<Option<String>>,
}

impl Mitm {
    /// One line for a failure message.
    pub fn describe(&self) -> String {
        use std::sync::atomic::Ordering::Relaxed;
        format!(
            "mitm: {} seat connections, {} uplink frames, {} downlink bytes, {} Hellos captured, {} replayed, {} dropped; proxy ended: {:?}",
            self.seat_connects.load(Relaxed),
            self.uplink_frames.load(Relaxed),
            self.downlink_bytes.load(Relaxed),
            self.captured.load(Relaxed),
            self.replayed.load(Relaxed),
            self.dropped.load(Relaxed),
            self.ended.lock().ok().and_then(|e| e.clone())
        )
    }
}

/// How often the man-in-the-middle replays a captured `Hello`: one per telemetry period.
pub const MITM_REPLAY_MS: u64 = 500;

/// The message kind of a wire frame, if it parses.
fn kind_of(frame: &[u8]) -> Option<hemiwatch_protocol::MessageKind> {
    let mut body = frame[..frame.len().saturating_sub(1)].to_vec();
    let n = cobs::decode_in_place(&mut body).ok()?;
    hemiwatch_protocol::parse_body(&body[..n])
        .ok()
        .map(|r| r.header.kind)
}

/// Serves the daemon's line at `listen` (a `unix:` endpoint) with the seat whose QEMU UART
/// listens at `seat` behind the man-in-the-middle `mitm`. The daemon's connection outlives the
/// seat (reconnected when it boots again), and replays go on while the seat is dead. Runs until
/// `shutdown`.
pub async fn serve_mitm(
    listen: std::path::PathBuf,
    seat: std::path::PathBuf,
    mitm: std::sync::Arc<Mitm>,
    shutdown: tokio_util::sync::CancellationToken,
) -> std::io::Result<()> {
    use std::collections::VecDeque;
    use std::sync::atomic::Ordering::Relaxed;
    use tokio::time::Instant;

    let listener = tokio::net::UnixListener::bind(&listen)?;
    let mut daemon = tokio::select! {
        r = listener.accept() => r?.0,
        _ = shutdown.cancelled() => return Ok(()),
    };
    let mut seat_stream: Option<tokio::net::UnixStream> = None;
    let mut cutter = Cutter::default();
    let mut hellos: Vec<Vec<u8>> = Vec::new();
    let mut next_hello = 0usize;
    let mut held: VecDeque<(Instant, Vec<u8>)> = VecDeque::new();
    let mut replay = tokio::time::interval(Duration::from_millis(MITM_REPLAY_MS));
    let mut retry = tokio::time::interval(Duration::from_millis(50));
    let mut up = vec![0u8; 2048];
    let mut down = vec![0u8; 2048];
    loop {
        let release = held.front().map(|(t, _)| *t);
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = retry.tick(), if seat_stream.is_none() => {
                if let Ok(s) = tokio::net::UnixStream::connect(&seat).await {
                    seat_stream = Some(s);
                    cutter = Cutter::default();
                    mitm.seat_connects.fetch_add(1, Relaxed);
                }
            }
            r = async {
                match seat_stream.as_mut() {
                    Some(s) => s.read(&mut up).await,
                    None => std::future::pending().await,
                }
            } => {
                let n = r.unwrap_or(0);
                if n == 0 {
                    seat_stream = None;
                    continue;
                }
                let mut frames = Vec::new();
                cutter.push(&up[..n], &mut frames);
                let delay = Duration::from_millis(mitm.delay_ms.load(Relaxed));
                for f in frames {
                    mitm.uplink_frames.fetch_add(1, Relaxed);
                    let kind = kind_of(&f);
                    if kind == Some(hemiwatch_protocol::MessageKind::Hello) && !hellos.contains(&f) {
                        hellos.push(f.clone());
                        mitm.captured.fetch_add(1, Relaxed);
                    }
                    let hidden = matches!(
                        kind,
                        Some(hemiwatch_protocol::MessageKind::Telemetry | hemiwatch_protocol::MessageKind::Event)
                    );
                    if hidden && mitm.drop_telemetry.load(Relaxed) {
                        mitm.dropped.fetch_add(1, Relaxed);
                        continue;
                    }
                    held.push_back((Instant::now() + delay, f));
                }
            }
            _ = async {
                match release {
                    Some(t) => tokio::time::sleep_until(t).await,
                    None => std::future::pending().await,
                }
            } => {
                while held.front().is_some_and(|(t, _)| *t <= Instant::now()) {
                    if let Some((_, f)) = held.pop_front() {
                        daemon.write_all(&f).await?;
                    }
                }
            }
            _ = replay.tick() => {
                if mitm.replay_hellos.load(Relaxed) && !hellos.is_empty() {
                    let h = &hellos[next_hello % hellos.len()];
                    next_hello += 1;
                    daemon.write_all(h).await?;
                    mitm.replayed.fetch_add(1, Relaxed);
                }
            }
            r = daemon.read(&mut down) => {
                let n = r?;
                if n == 0 {
                    // The daemon went away (restarted): wait for it again.
                    daemon = tokio::select! {
                        r = listener.accept() => r?.0,
                        _ = shutdown.cancelled() => return Ok(()),
                    };
                    continue;
                }
                if let Some(s) = seat_stream.as_mut() {
                    if s.write_all(&down[..n]).await.is_err() {
                        seat_stream = None;
                    } else {
                        mitm.downlink_bytes.fetch_add(n as u64, Relaxed);
                    }
                }
            }
        }
    }
}

/// A telemetry frame for the proxied seat's address, MACed with a key that is not the seat's.
fn masquerade(impostor: &mut SeatLink, impostor_host: &mut HostLink) -> Vec<u8> {
    use hemiwatch_protocol::{Message, Telemetry};
    let mut buf = [0u8; MAX_WIRE];
    if !impostor.has_session() {
        // The impostor opens a session with its own (wrong-key) host to be able to send telemetry.
        let hello = hemiwatch_protocol::Hello {
            protocol_minor: 0,
            firmware: hemiwatch_protocol::FirmwareVersion {
                major: 6,
                minor: 6,
                patch: 6,
            },
            board: hemiwatch_protocol::BoardKind::Simulated,
            boot_id: 0,
            counter: 0,
            sensors: 1,
            reset: hemiwatch_protocol::ResetCause::PowerOn,
            period_ms: 500,
        };
        let Ok(w) = impostor.encode(&Message::Hello(hello.clone()), &mut buf) else {
            return Vec::new();
        };
        let w = w.to_vec();
        let mut dec = FrameDecoder::<MAX_WIRE>::new();
        let mut answer = Vec::new();
        dec.feed(&w, |f| {
            if let Ok(f) = f {
                if let Ok(v) = impostor_host.accept(&f) {
                    if let hemiwatch_protocol::Message::Hello(h) = v.message {
                        let mut b = [0u8; MAX_WIRE];
                        if let Ok(s) = impostor_host.respond_to_hello(&h, 99, &mut b) {
                            answer = s.to_vec();
                        }
                    }
                }
            }
        });
        dec.feed(&answer, |f| {
            if let Ok(f) = f {
                let _ = impostor.accept(&f);
            }
        });
    }
    // "All fine, 25 °C": exactly what an attacker hiding a hot seat would send.
    let t = Telemetry {
        uptime_min: 1,
        flags: Default::default(),
        temps: heapless::Vec::from_slice(&[2500]).unwrap_or_default(),
        supply_mv: 3300,
    };
    impostor
        .encode(&Message::Telemetry(t), &mut buf)
        .map(<[u8]>::to_vec)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hemiwatch_protocol::{encode_unauthenticated, parse_body, Message, Ping};

    #[test]
    fn readdressing_keeps_the_crc_valid_but_changes_the_seat() {
        let mut buf = [0u8; MAX_WIRE];
        let wire = encode_unauthenticated(10, 3, &Message::Ping(Ping {}), &mut buf)
            .unwrap()
            .to_vec();
        let moved = readdress(&wire, 500);
        let mut body = moved[..moved.len() - 1].to_vec();
        let n = cobs::decode_in_place(&mut body).unwrap();
        let raw = parse_body(&body[..n]).unwrap();
        assert_eq!(raw.header.seat, 500);
    }
}
