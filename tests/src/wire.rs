//! A real-time RS-485 wire for the rig: the shared half-duplex pair that QEMU's UART and a pty
//! both hide.
//!
//! QEMU never drops or paces a UART byte and a pty is a private point-to-point pipe, so seats that
//! talk over each other on a real line are never caught by a rig built from them. [`Wire`] is a
//! hub between the real processes: every **node** is an endpoint a process already opens — a
//! QEMU seat's `-serial pty` (or `unix:` socket), a simulator's pty, the daemon's line (a pty whose
//! slave the daemon opens as its serial device) or a raw pty a test writes itself.
//!
//! ```text
//!  QEMU seat ── pty ──┐                         ┌── pty ── QEMU seat
//!  hemiwatch sim ─ pty┼── Wire: clocks bytes ───┼── pty ── daemon (`[[line]] path`)
//!  rogue (test) ─ pty ┘   at baud, 8N1,         └── ...
//!                         counts collisions
//! ```
//!
//! # The model
//! - A node **drives** the wire from the arrival of its first byte (on the hub's timeline, below)
//!   until its queued bytes have been clocked out, one character time `c = 10 / baud` each (8N1:
//!   start, 8 data, stop), plus the driver-release turnaround. Bytes arriving while it still drives
//!   join the same transmission; processes write whole frames in bursts and QEMU does not pace its
//!   UART, so the hub is what gives each byte its time.
//! - Each character is delivered to **every other** node when its stop bit ends (the transceivers
//!   of the rig's nodes do not echo their own transmission back), paced in real time.
//! - Two nodes driving at once is a **collision**: counted once per pair of overlapping
//!   transmissions, and every character whose character time overlaps another node's driving is
//!   delivered as [`GARBLED`], the byte a Linux tty reads for a framing error, so the receivers'
//!   COBS/CRC reject the frame it hits.
//!
//! # The hub's own timing error, and why the collision rule is honest about it
//! Time on the wire is the hub's **timeline of arrivals**: a reader thread per node stamps a chunk
//! with [`Instant::now`] the moment `poll(2)` reports it readable. A byte's stamp is late by the
//! writer's pty latency and the reader's wake-up (tens of µs idle, a few ms on a loaded 2-core
//! machine). Collisions are decided on that timeline only, from the stamps and the baud
//! arithmetic — never on when the clock thread got round to delivering — so a collision counted is
//! an overlap the hub saw, and two transmissions separated by more than the stamping error are
//! never counted. To keep that error small against what it judges, the rig runs the wire at a
//! low baud (1200–9600: a character is 8.3–1 ms, a frame 30–250 ms); the scheme's gaps and slots
//! scale with the character time, so its margins grow with it.
//!
//! Delivery is paced by a clock thread sleeping until the next stop bit ends (at least
//! [`QUANTUM`]); when it wakes late (the same scheduler jitter) the characters due are written
//! together, still at their places on the timeline. A late wake-up is a silence inside a frame
//! that the real wire never has, which a receiver timing turns by silences would take for a turn
//! ending: so **every node of a line must time its turns for the wire's baud, and that baud must
//! make the scheme's `gap` long against the hub's lateness** (1–23 ms seen here). With the
//! hardware jitter budget the gap is 2 characters plus 30 µs: 0.2 ms at 115200 baud, too short
//! for this hub between separate processes; 16.7 ms at 1200 baud (what the raw-pty scheme tests
//! here use). A line may instead keep its baud and raise its jitter budget (the `jitter_us` the
//! host carries in its beacons), which lengthens gap and slot by the same amount. One process
//! carrying a whole line of seats (`hemiwatch sim`) is one node: its seats' turns are one
//! transmission to the hub, which then judges only the daemon against it. [`WireStats::late_max`] reports the worst lateness seen, [`WireStats::late_arrivals`]
//! counts chunks stamped before a delivery the clock thread had already made (a reader thread
//! that was slower than the clock thread): each is a place where a garbled character may have
//! gone out clean, so a test that asserts garbling can also assert this is zero.
//!
//! A receiver that does not read (a QEMU whose guest has not drained its FIFO, a daemon that has not
//! opened its line yet) loses what does not fit its pty: a non-blocking write that would block is
//! counted in [`NodeStats::dropped`], and the hub never stalls on it.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;
use hemiwatch_protocol::bus::{bytes_ns, TURNAROUND_NS};

/// What receivers read for a character that overlapped another transmitter: a framing error
/// reads as `\0` on a Linux tty in raw mode (termios(3): "If neither IGNPAR nor PARMRK is set,
/// read a character with a parity error or framing error as \0"), which is what the daemon's
/// USB-RS485 adapter would give it. It is also the COBS delimiter, so it cuts the frame it hits.
pub const GARBLED: u8 = 0x00;

/// How long the reader and clock threads block before looking at the stop flag.
const IDLE: Duration = Duration::from_millis(50);

/// Shortest sleep of the clock thread while characters are on their way: characters due within
/// it are delivered together, so a 115200-baud line (86.8 µs a character) costs at most a
/// thousand wake-ups a second, not eleven thousand. Below 9600 baud it is under one character.
const QUANTUM: Duration = Duration::from_millis(1);

/// How often a node attached by path tries to reopen it after its process went away (a QEMU
/// reboot, a simulator unplugging its line).
const REOPEN: Duration = Duration::from_millis(20);

/// How long drive intervals are kept for the overlap checks (far beyond any frame at the rig's
/// baud rates).
const HISTORY: Duration = Duration::from_secs(2);

/// A node on the wire, as returned by the `attach` methods.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Node(pub usize);

/// Counters of one node.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeStats {
    /// The name given at attach time (for failure messages).
    pub name: String,
    /// Characters this node drove onto the wire.
    pub bytes: u64,
    /// Frames it drove (COBS delimiters, garbled or not).
    pub frames: u64,
    /// Transmissions of this node that overlapped another node's.
    pub collisions: u64,
    /// Characters of this node delivered garbled.
    pub garbled: u64,
    /// Characters this node did not receive because it was not reading (or not connected).
    pub dropped: u64,
}

/// What the wire has carried so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WireStats {
    /// Pairs of overlapping transmissions.
    pub collisions: u64,
    /// Per node, indexed by [`Node`].
    pub nodes: Vec<NodeStats>,
    /// Worst delay between a stop bit's end on the timeline and its delivery.
    pub late_max: Duration,
    /// Characters delivered more than 1 ms after their stop bit ended.
    pub late_over_1ms: u64,
    /// Characters delivered.
    pub delivered: u64,
    /// Chunks stamped before a delivery already made (see the module docs).
    pub late_arrivals: u64,
}

impl WireStats {
    /// Characters delivered garbled, all nodes.
    pub fn garbled(&self) -> u64 {
        self.nodes.iter().map(|n| n.garbled).sum()
    }

    /// Frames driven, all nodes.
    pub fn frames(&self) -> u64 {
        self.nodes.iter().map(|n| n.frames).sum()
    }

    /// The counters of `node`.
    pub fn node(&self, node: Node) -> &NodeStats {
        &self.nodes[node.0]
    }
}

/// What a reader thread tells the clock thread.
enum Event {
    /// Bytes read from `node`, stamped when `poll` said they were there.
    Bytes(Node, Instant, Vec<u8>),
    /// `node` (re)connected: its end for writing.
    Connected(Node, File),
    /// `node`'s process went away.
    Gone(Node),
}

/// How a node's endpoint is (re)opened.
enum Opener {
    /// A pty the hub made; the master never goes away.
    Fixed(Option<File>),
    /// A device path (a pty slave, through a symlink), reopened when its process restarts.
    Device(PathBuf),
    /// A unix socket a process listens on (QEMU `-serial unix:...,server=on`).
    Socket(PathBuf),
}

impl Opener {
    fn open(&mut self) -> io::Result<File> {
        match self {
            Self::Fixed(f) => f
                .take()
                .ok_or_else(|| io::Error::new(io::ErrorKind::NotConnected, "the hub's pty closed")),
            Self::Device(path) => open_raw(path),
            Self::Socket(path) => Ok(File::from(OwnedFd::from(UnixStream::connect(path)?))),
        }
    }

    fn reopens(&self) -> bool {
        !matches!(self, Self::Fixed(_))
    }
}

/// One character on the hub's timeline.
#[derive(Copy, Clone, Debug)]
struct Char {
    byte: u8,
    start: Instant,
    end: Instant,
}

/// A continuous stretch of one node driving the wire.
#[derive(Copy, Clone, Debug)]
struct Drive {
    id: u64,
    start: Instant,
    end: Instant,
}

#[derive(Default)]
struct NodeState {
    stats: NodeStats,
    writer: Option<File>,
    pending: VecDeque<Char>,
    /// End of the last character scheduled.
    clock_end: Option<Instant>,
    drives: VecDeque<Drive>,
}

/// The wire's state, shared by the clock thread, the reader threads' events and [`Wire::stats`].
struct Hub {
    char_time: Duration,
    turnaround: Duration,
    nodes: Vec<NodeState>,
    stats: WireStats,
    next_drive: u64,
    /// Pairs of drives already counted as a collision.
    counted: Vec<(u64, u64)>,
    /// End of the last character delivered.
    delivered_to: Option<Instant>,
}

impl Hub {
    fn arrive(&mut self, node: Node, at: Instant, bytes: &[u8]) {
        if self.delivered_to.is_some_and(|d| at < d) {
            self.stats.late_arrivals += 1;
        }
        let (char_time, turnaround) = (self.char_time, self.turnaround);
        let n = &mut self.nodes[node.0];
        let driving = n.drives.back().is_some_and(|d| d.end > at);
        if !driving {
            self.next_drive += 1;
            n.drives.push_back(Drive {
                id: self.next_drive,
                start: at,
                end: at,
            });
        }
        for &byte in bytes {
            let start = n.clock_end.map_or(at, |e| e.max(at));
            let end = start + char_time;
            n.pending.push_back(Char { byte, start, end });
            n.clock_end = Some(end);
            n.stats.bytes += 1;
            if byte == 0 {
                n.stats.frames += 1;
            }
        }
        let drive = n.drives.back_mut().expect("a drive was pushed");
        drive.end = n.clock_end.unwrap_or(at) + turnaround;
        let drive = *drive;
        self.count_collisions(node, drive);
    }

    /// Counts every other node's drive that overlaps `drive` and was not counted with it yet.
    fn count_collisions(&mut self, node: Node, drive: Drive) {
        for m in 0..self.nodes.len() {
            if m == node.0 {
                continue;
            }
            let overlapping: Vec<u64> = self.nodes[m]
                .drives
                .iter()
                .filter(|o| o.start < drive.end && drive.start < o.end)
                .map(|o| o.id)
                .collect();
            for other in overlapping {
                let pair = (drive.id.min(other), drive.id.max(other));
                if !self.counted.contains(&pair) {
                    self.counted.push(pair);
                    self.stats.collisions += 1;
                    self.nodes[node.0].stats.collisions += 1;
                    self.nodes[m].stats.collisions += 1;
                }
            }
        }
    }

    /// When the next stop bit ends.
    fn next_due(&self) -> Option<Instant> {
        self.nodes
            .iter()
            .filter_map(|n| n.pending.front().map(|c| c.end))
            .min()
    }

    /// Delivers every character whose stop bit ended by `now`, in timeline order.
    fn deliver(&mut self, now: Instant) {
        let mut out: Vec<Vec<u8>> = vec![Vec::new(); self.nodes.len()];
        while let Some((i, c)) = self
            .nodes
            .iter()
            .enumerate()
            .filter_map(|(i, n)| n.pending.front().map(|c| (i, *c)))
            .min_by_key(|&(i, c)| (c.end, i))
            .filter(|(_, c)| c.end <= now)
        {
            self.nodes[i].pending.pop_front();
            let overlapped = self
                .nodes
                .iter()
                .enumerate()
                .any(|(m, n)| m != i && n.drives.iter().any(|d| d.start < c.end && c.start < d.end));
            let byte = if overlapped {
                self.nodes[i].stats.garbled += 1;
                GARBLED
            } else {
                c.byte
            };
            for (m, o) in out.iter_mut().enumerate() {
                if m != i {
                    o.push(byte);
                }
            }
            let late = now.saturating_duration_since(c.end);
            self.stats.late_max = self.stats.late_max.max(late);
            if late > Duration::from_millis(1) {
                self.stats.late_over_1ms += 1;
            }
            self.stats.delivered += 1;
            self.delivered_to = Some(self.delivered_to.map_or(c.end, |d| d.max(c.end)));
        }
        // One write per receiver for everything due: what does not fit its pty is lost to it.
        for (n, o) in self.nodes.iter_mut().zip(out) {
            if o.is_empty() {
                continue;
            }
            let Some(w) = n.writer.as_mut() else {
                n.stats.dropped += o.len() as u64;
                continue;
            };
            match w.write(&o) {
                Ok(k) => n.stats.dropped += (o.len() - k) as u64,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => n.stats.dropped += o.len() as u64,
                Err(_) => {
                    n.stats.dropped += o.len() as u64;
                    n.writer = None;
                }
            }
        }
        // Forget drives no overlap check can reach any more.
        let horizon = now.checked_sub(HISTORY);
        if let Some(h) = horizon {
            for n in &mut self.nodes {
                while n.drives.len() > 1 && n.drives.front().is_some_and(|d| d.end < h) {
                    n.drives.pop_front();
                }
            }
            let live: Vec<u64> = self
                .nodes
                .iter()
                .flat_map(|n| n.drives.iter().map(|d| d.id))
                .collect();
            self.counted.retain(|(a, b)| live.contains(a) || live.contains(b));
        }
    }

    fn apply(&mut self, ev: Event) {
        match ev {
            Event::Bytes(node, at, bytes) => self.arrive(node, at, &bytes),
            Event::Connected(node, file) => self.nodes[node.0].writer = Some(file),
            Event::Gone(node) => self.nodes[node.0].writer = None,
        }
    }
}

/// The real-time wire: a clock thread and one reader thread per node. Dropping it stops them;
/// the processes on its nodes then see their line go quiet.
pub struct Wire {
    baud: u32,
    hub: Arc<Mutex<Hub>>,
    events: Sender<Event>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    /// Hub-made ptys: the slave ends kept open so the masters never read EIO before (or after)
    /// the peer process opens them.
    slaves: Vec<OwnedFd>,
}

impl Wire {
    /// A wire at `baud` whose drivers release [`TURNAROUND_NS`] after their last stop bit.
    pub fn new(baud: u32) -> anyhow::Result<Self> {
        Self::with_turnaround(baud, Duration::from_nanos(TURNAROUND_NS))
    }

    /// A wire at `baud` with the given driver-release turnaround.
    pub fn with_turnaround(baud: u32, turnaround: Duration) -> anyhow::Result<Self> {
        anyhow::ensure!(baud > 0, "a wire needs a baud rate above 0");
        let hub = Arc::new(Mutex::new(Hub {
            char_time: Duration::from_nanos(bytes_ns(1, baud)),
            turnaround,
            nodes: Vec::new(),
            stats: WireStats::default(),
            next_drive: 0,
            counted: Vec::new(),
            delivered_to: None,
        }));
        let (events, rx) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let clock = {
            let hub = hub.clone();
            let stop = stop.clone();
            std::thread::Builder::new()
                .name("wire-clock".into())
                .spawn(move || clock(hub, rx, stop))?
        };
        Ok(Self {
            baud,
            hub,
            events,
            stop,
            threads: vec![clock],
            slaves: Vec::new(),
        })
    }

    /// The wire's baud rate.
    pub fn baud(&self) -> u32 {
        self.baud
    }

    /// One character time on this wire.
    pub fn char_time(&self) -> Duration {
        Duration::from_nanos(bytes_ns(1, self.baud))
    }

    /// A pty made by the hub: returns the node and the slave device a process (or a test's
    /// [`Port`]) opens.
    pub fn pty(&mut self, name: &str) -> anyhow::Result<(Node, PathBuf)> {
        use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
        let pair = nix::pty::openpty(None, None).context("openpty")?;
        let mut tio = tcgetattr(&pair.slave)?;
        cfmakeraw(&mut tio);
        tcsetattr(&pair.slave, SetArg::TCSANOW, &tio)?;
        let slave_path = std::fs::read_link(format!("/proc/self/fd/{}", pair.slave.as_raw_fd()))?;
        self.slaves.push(pair.slave);
        let node = self.spawn_node(name, Opener::Fixed(Some(File::from(pair.master))))?;
        Ok((node, slave_path))
    }

    /// The daemon's line: a hub-made pty whose slave is linked at `link`, the path a
    /// `[[line]] path` names (e.g. `harness::line_toml(name, dir)` names `dir/name`).
    pub fn daemon_line(&mut self, link: &Path) -> anyhow::Result<Node> {
        let name = link
            .file_name()
            .map(|n| format!("daemon:{}", n.to_string_lossy()))
            .unwrap_or_else(|| "daemon".into());
        let (node, slave) = self.pty(&name)?;
        let _ = std::fs::remove_file(link);
        std::os::unix::fs::symlink(&slave, link)
            .with_context(|| format!("link {} → {}", link.display(), slave.display()))?;
        Ok(node)
    }

    /// A device another process made (a simulator's pty link, a QEMU seat's pty), opened raw
    /// like the daemon opens a line, and reopened when the process behind it restarts.
    pub fn attach_device(&mut self, name: &str, path: &Path) -> anyhow::Result<Node> {
        self.spawn_node(name, Opener::Device(path.to_owned()))
    }

    /// A unix socket a process listens on (QEMU's `-serial unix:...,server=on,wait=off`).
    pub fn attach_socket(&mut self, name: &str, path: &Path) -> anyhow::Result<Node> {
        self.spawn_node(name, Opener::Socket(path.to_owned()))
    }

    /// A QEMU seat booted with its UART on a pty ([`crate::qemu::Uart::Daemon`]: through the
    /// link, so a restarted seat is reattached on its new pty).
    pub fn attach_qemu(&mut self, seat: &crate::qemu::QemuSeat, link: Option<&Path>) -> anyhow::Result<Node> {
        let name = format!("qemu:{}", seat.seat.map_or("-".into(), |s| s.to_string()));
        let path = match (link, &seat.pty) {
            (Some(l), _) => l.to_owned(),
            (None, Some(p)) => p.clone(),
            (None, None) => anyhow::bail!("seat {name} has no pty (booted with Uart::Socket?)"),
        };
        self.attach_device(&name, &path)
    }

    /// A simulated line (`hemiwatch sim --out pty:LINK`, see [`crate::harness::sim_line`]) on
    /// this wire: starts it and attaches its pty.
    pub fn sim_line(
        &mut self,
        link: &Path,
        first_id: u16,
        seats: u16,
        extra: &[&str],
    ) -> anyhow::Result<(Node, hemiwatch::testkit::Proc)> {
        let proc = crate::harness::sim_line(link, first_id, seats, extra)?;
        let node = self.attach_device(&format!("sim:{first_id}+{seats}"), link)?;
        Ok((node, proc))
    }

    /// A whole simulated line on this wire, a drop-in for `harness::sim_line(&dir.join(name), ..)`
    /// beside `harness::line_toml(name, dir)`: the daemon's end is linked at `dir/name` (what
    /// `line_toml` names), the simulator's pty at `dir/name.sim`. Returns (daemon node, simulator
    /// node, the simulator process).
    pub fn simulated_line(
        &mut self,
        dir: &Path,
        name: &str,
        first_id: u16,
        seats: u16,
        extra: &[&str],
    ) -> anyhow::Result<(Node, Node, hemiwatch::testkit::Proc)> {
        let daemon = self.daemon_line(&dir.join(name))?;
        let (sim, proc) = self.sim_line(&dir.join(format!("{name}.sim")), first_id, seats, extra)?;
        Ok((daemon, sim, proc))
    }

    /// Counters so far.
    pub fn stats(&self) -> WireStats {
        let hub = self.hub.lock().unwrap_or_else(|e| e.into_inner());
        let mut s = hub.stats.clone();
        s.nodes = hub.nodes.iter().map(|n| n.stats.clone()).collect();
        s
    }

    /// Whether every node has a connected end (a process reopened by path may still be booting).
    pub fn connected(&self, node: Node) -> bool {
        let hub = self.hub.lock().unwrap_or_else(|e| e.into_inner());
        hub.nodes[node.0].writer.is_some()
    }

    fn spawn_node(&mut self, name: &str, opener: Opener) -> anyhow::Result<Node> {
        let node = {
            let mut hub = self.hub.lock().unwrap_or_else(|e| e.into_inner());
            hub.nodes.push(NodeState {
                stats: NodeStats {
                    name: name.to_owned(),
                    ..NodeStats::default()
                },
                ..NodeState::default()
            });
            Node(hub.nodes.len() - 1)
        };
        let events = self.events.clone();
        let stop = self.stop.clone();
        let t = std::thread::Builder::new()
            .name(format!("wire-{name}"))
            .spawn(move || reader(node, opener, events, stop))?;
        self.threads.push(t);
        Ok(node)
    }
}

impl Drop for Wire {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// The clock thread: applies arrivals, sleeps until the next stop bit ends, delivers.
fn clock(hub: Arc<Mutex<Hub>>, rx: Receiver<Event>, stop: Arc<AtomicBool>) {
    while !stop.load(Ordering::Relaxed) {
        let due = hub.lock().unwrap_or_else(|e| e.into_inner()).next_due();
        let now = Instant::now();
        let wait = match due {
            None => IDLE,
            Some(d) if d <= now => Duration::ZERO,
            Some(d) => (d - now).clamp(QUANTUM, IDLE),
        };
        let first = match rx.recv_timeout(wait) {
            Ok(ev) => Some(ev),
            Err(RecvTimeoutError::Timeout) => None,
            Err(RecvTimeoutError::Disconnected) => return,
        };
        let mut hub = hub.lock().unwrap_or_else(|e| e.into_inner());
        // Every arrival stamped so far goes on the timeline before anything is delivered.
        for ev in first.into_iter().chain(rx.try_iter()) {
            hub.apply(ev);
        }
        hub.deliver(Instant::now());
    }
}

/// A reader thread: (re)opens the node's endpoint, stamps what it reads, reports it.
fn reader(node: Node, mut opener: Opener, events: Sender<Event>, stop: Arc<AtomicBool>) {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut buf = [0u8; 512];
    while !stop.load(Ordering::Relaxed) {
        let mut file = match opener.open().and_then(nonblocking) {
            Ok(f) => f,
            Err(_) if opener.reopens() => {
                std::thread::sleep(REOPEN);
                continue;
            }
            Err(_) => return,
        };
        let Ok(writer) = file.try_clone() else { return };
        if events.send(Event::Connected(node, writer)).is_err() {
            return;
        }
        'open: while !stop.load(Ordering::Relaxed) {
            let mut fds = [PollFd::new(file.as_fd(), PollFlags::POLLIN)];
            let ready = poll(&mut fds, PollTimeout::from(IDLE.as_millis() as u16));
            let at = Instant::now();
            let revents = fds[0].revents().unwrap_or(PollFlags::empty());
            match ready {
                Ok(0) => continue,
                Ok(_) => {}
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => break 'open,
            }
            if !revents.contains(PollFlags::POLLIN) {
                // POLLHUP / POLLERR with nothing to read: the process on the other end is gone.
                break 'open;
            }
            loop {
                match file.read(&mut buf) {
                    Ok(0) => break 'open,
                    Ok(n) => {
                        if events.send(Event::Bytes(node, at, buf[..n].to_vec())).is_err() {
                            return;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break 'open,
                }
            }
        }
        if events.send(Event::Gone(node)).is_err() || !opener.reopens() {
            return;
        }
        std::thread::sleep(REOPEN);
    }
}

fn nonblocking(file: File) -> io::Result<File> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    let flags = OFlag::from_bits_truncate(fcntl(file.as_raw_fd(), FcntlArg::F_GETFL)?);
    fcntl(file.as_raw_fd(), FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(file)
}

/// Opens a tty device in raw mode (no echo, no line discipline), as the daemon opens a line.
fn open_raw(path: &Path) -> io::Result<File> {
    use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(nix::libc::O_NOCTTY)
        .open(path)?;
    let mut t = tcgetattr(&file).map_err(io::Error::from)?;
    cfmakeraw(&mut t);
    tcsetattr(&file, SetArg::TCSANOW, &t).map_err(io::Error::from)?;
    Ok(file)
}

/// Bytes a [`Port`] read, stamped when its reader thread got them.
pub type Chunk = (Instant, Vec<u8>);

/// A test's own end of a node: a raw tty it writes whole frames to (as a process does) and reads
/// what the wire delivers, stamped on arrival.
pub struct Port {
    file: File,
    rx: Receiver<Chunk>,
}

impl Port {
    /// Opens `path` (a slave from [`Wire::pty`]) raw; a thread forwards what it reads.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let file = open_raw(path).with_context(|| format!("open {}", path.display()))?;
        let mut reader = file.try_clone()?;
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 512];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if tx.send((Instant::now(), buf[..n].to_vec())).is_err() {
                            return;
                        }
                    }
                }
            }
        });
        Ok(Self { file, rx })
    }

    /// Writes `bytes` in one burst; returns the instant just before the write.
    pub fn write(&mut self, bytes: &[u8]) -> anyhow::Result<Instant> {
        let at = Instant::now();
        self.file.write_all(bytes)?;
        self.file.flush()?;
        Ok(at)
    }

    /// The next chunk within `timeout`, `None` on time-out.
    pub fn recv(&self, timeout: Duration) -> Option<Chunk> {
        self.rx.recv_timeout(timeout).ok()
    }

    /// Chunks until at least `n` bytes arrived or `limit` passed.
    pub fn read(&self, n: usize, limit: Duration) -> Vec<Chunk> {
        let end = Instant::now() + limit;
        let mut out = Vec::new();
        let mut got = 0;
        while got < n {
            let Some(c) = self.recv(end.saturating_duration_since(Instant::now())) else {
                break;
            };
            got += c.1.len();
            out.push(c);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    //! The wire with raw ptys on every node: timing measured on the test's clock, with stated
    //! tolerances: a character is never early, and may be late by the scheduler jitter of a loaded
    //! 2-core machine (a few ms usually, 23 ms seen while other builds ran), so an upper bound
    //! here is never tighter than 50 ms, against a 400 ms frame that arrives in 5 ms without
    //! pacing.
    use super::*;

    /// 1.04 ms a character: a 20-byte frame is 20.8 ms on the wire.
    const BAUD: u32 = 9600;

    fn frame(fill: u8, len: usize) -> Vec<u8> {
        let mut f = vec![fill; len - 1];
        f.push(0);
        f
    }

    fn bytes(chunks: &[Chunk]) -> Vec<u8> {
        chunks.iter().flat_map(|(_, b)| b.iter().copied()).collect()
    }

    fn wait(mut cond: impl FnMut() -> bool) {
        hemiwatch::testkit::wait_for(Duration::from_secs(2), "the wire's node", || Ok(cond())).unwrap();
    }

    /// Three raw nodes: two writers and a listener.
    fn three() -> (Wire, [(Node, Port); 3]) {
        let mut wire = Wire::new(BAUD).unwrap();
        let mut port = |name| {
            let (n, path) = wire.pty(name).unwrap();
            (n, Port::open(&path).unwrap())
        };
        let nodes = [port("a"), port("b"), port("listener")];
        (wire, nodes)
    }

    #[test]
    fn overlapping_writers_collide_and_their_bytes_arrive_garbled() {
        let (wire, [(a, mut pa), (b, mut pb), (_, l)]) = three();
        // b writes 5 ms into a's 41.7 ms frame: inside it unless the machine stalls for 36 ms.
        pa.write(&frame(0x11, 40)).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        pb.write(&frame(0x22, 20)).unwrap();
        let got = bytes(&l.read(60, Duration::from_secs(3)));
        let s = wire.stats();
        println!("{s:?}");
        assert_eq!(s.collisions, 1, "{s:?}");
        assert_eq!((s.node(a).collisions, s.node(b).collisions), (1, 1));
        assert!(s.node(a).garbled >= 1 && s.node(b).garbled >= 1, "{s:?}");
        assert_eq!(got.len(), 60, "every character reaches the listener: {got:02x?}");
        let zeros = got.iter().filter(|&&x| x == GARBLED).count() as u64;
        assert!(zeros >= s.garbled(), "{zeros} NULs for {} garbled", s.garbled());
        assert!(
            !got.windows(40).any(|w| w == frame(0x11, 40)),
            "a's frame arrived intact through the collision: {got:02x?}"
        );
        assert!(!got.windows(20).any(|w| w == frame(0x22, 20)));
        // The writers hear each other (garbled), not themselves.
        let heard_by_a = bytes(&pa.read(20, Duration::from_secs(2)));
        assert_eq!(heard_by_a.len(), 20, "{heard_by_a:02x?}");
        assert!(!heard_by_a.contains(&0x11));
        assert!(
            pa.recv(Duration::from_millis(50)).is_none(),
            "a heard its own echo"
        );
    }

    #[test]
    fn sequential_writers_do_not_collide() {
        let (wire, [(_, mut pa), (_, mut pb), (_, l)]) = three();
        pa.write(&frame(0x11, 20)).unwrap();
        let mut got = Vec::new();
        while got.len() < 20 {
            let (_, c) = l.recv(Duration::from_secs(2)).expect("a's frame arrives");
            got.extend(c);
        }
        // Silence after a's last stop bit, then b.
        std::thread::sleep(Duration::from_millis(10));
        pb.write(&frame(0x22, 20)).unwrap();
        got.extend(bytes(&l.read(20, Duration::from_secs(2))));
        let s = wire.stats();
        assert_eq!(s.collisions, 0, "{s:?}");
        assert_eq!(s.garbled(), 0);
        assert_eq!(s.frames(), 2);
        assert_eq!(got, [frame(0x11, 20), frame(0x22, 20)].concat());
    }

    #[test]
    fn a_frame_takes_its_character_times_on_the_wire() {
        const N: usize = 384;
        let (wire, [(_, mut pa), _, (_, l)]) = three();
        let c = wire.char_time();
        let sent = pa.write(&frame(0x33, N)).unwrap();
        let chunks = l.read(N, Duration::from_secs(3));
        assert_eq!(bytes(&chunks).len(), N);
        let first = chunks.first().unwrap().0 - sent;
        let last = chunks.last().unwrap().0 - sent;
        let expect = c * N as u32;
        let tolerance = Duration::from_millis(50);
        println!(
            "{N} bytes at {BAUD} baud: first byte after {first:?} (one character: {c:?}), last after {last:?} \
             (N × 10 / baud = {expect:?}); hub lateness max {:?}",
            wire.stats().late_max
        );
        // The last stop bit cannot end before N character times after the write; the reader
        // threads and the pty add at most the tolerance.
        assert!(last >= expect - Duration::from_millis(1), "{last:?} < {expect:?}");
        assert!(
            last <= expect + tolerance,
            "{last:?} > {expect:?} + {tolerance:?}"
        );
        assert!(
            first >= c - Duration::from_millis(1) && first <= c + tolerance,
            "{first:?}"
        );
    }

    #[test]
    fn a_device_node_is_reopened_when_its_process_restarts_and_a_socket_node_works() {
        use std::os::unix::net::UnixListener;
        let dir = tempfile::tempdir().unwrap();
        let mut wire = Wire::new(BAUD).unwrap();
        let (_, l) = wire.pty("listener").unwrap();
        let l = Port::open(&l).unwrap();
        // A "process" holding a pty master, its slave linked like the simulator's and QEMU's.
        let link = dir.path().join("seat");
        let plug = |link: &Path| {
            let pair = nix::pty::openpty(None, None).unwrap();
            let slave = std::fs::read_link(format!("/proc/self/fd/{}", pair.slave.as_raw_fd())).unwrap();
            let _ = std::fs::remove_file(link);
            std::os::unix::fs::symlink(slave, link).unwrap();
            (File::from(pair.master), pair.slave)
        };
        let (mut master, slave) = plug(&link);
        let dev = wire.attach_device("seat", &link).unwrap();
        wait(|| wire.connected(dev));
        master.write_all(&frame(0x44, 8)).unwrap();
        assert_eq!(bytes(&l.read(8, Duration::from_secs(2))), frame(0x44, 8));
        // The process dies (both ends close) and comes back on a new pty under the same link.
        drop((master, slave));
        wait(|| !wire.connected(dev));
        let (mut master, _slave) = plug(&link);
        wait(|| wire.connected(dev));
        master.write_all(&frame(0x55, 8)).unwrap();
        assert_eq!(bytes(&l.read(8, Duration::from_secs(2))), frame(0x55, 8));
        // QEMU's `-serial unix:PATH,server=on`: the process listens, the wire connects.
        let sock = dir.path().join("uart.sock");
        let server = UnixListener::bind(&sock).unwrap();
        let s = wire.attach_socket("socket", &sock).unwrap();
        let (mut conn, _) = server.accept().unwrap();
        wait(|| wire.connected(s));
        conn.write_all(&frame(0x66, 8)).unwrap();
        assert_eq!(bytes(&l.read(8, Duration::from_secs(2))), frame(0x66, 8));
        let stats = wire.stats();
        assert_eq!((stats.frames(), stats.collisions), (3, 0), "{stats:?}");
    }
}
