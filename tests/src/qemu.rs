//! The hardware-in-the-loop rig: the real seat firmware ELF (`firmware/boards/qemu-lm3s6965`)
//! booted in QEMU's lm3s6965evb with an emulated TMP105, its UART0 on a real pty, its sensor
//! driven over QMP, and the test playing the host with the protocol crate's [`HostLink`].
//!
//! ```text
//!  test ── HostSide (HostLink) ── pty ── QEMU: UART0 ─ seat firmware ─ I2C0 ─ TMP105
//!    └──────────────── QMP socket: qom-set temperature ─────────────────────────┘
//! ```
//!
//! Each [`QemuSeat`] gets its own provisioning block (`-device loader` at `0x3FC00`), so several
//! run side by side with distinct seat ids and keys. Its QEMU runs in a process group of its own
//! that is killed when the handle drops: a failing test leaves no emulator behind.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use hemiwatch_firmware::provision::Provision;
use hemiwatch_protocol::{
    AuthError, FrameDecoder, Hello, HostLink, Message, Ping, SeatId, SeatKey, SessionChange, Verified,
    MAX_WIRE,
};

/// Address of the provisioning block (the last 1 KiB flash page, see the board's `memory.x`).
pub const PROVISION_ADDR: u32 = 0x3FC00;

/// The board's folder.
pub fn board_dir() -> PathBuf {
    crate::harness::workspace_root().join("firmware/boards/qemu-lm3s6965")
}

/// The release ELF of the QEMU board, built once per test process with the board's own lock file
/// and target folder (a no-op when it is up to date: cargo decides what is stale).
pub fn firmware_elf() -> anyhow::Result<PathBuf> {
    static ELF: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    ELF.get_or_init(|| {
        let dir = board_dir();
        let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--release", "--locked", "--quiet"])
            .current_dir(&dir)
            // The outer `cargo test` environment must not redirect or re-flag the board build.
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET_DIR")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("CARGO_MAKEFLAGS")
            .output()
            .map_err(|e| format!("cargo build in {}: {e}", dir.display()))?;
        if !out.status.success() {
            return Err(format!(
                "building the QEMU board firmware failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(dir.join("target/thumbv7m-none-eabi/release/hemiwatch-board-qemu"))
    })
    .clone()
    .map_err(anyhow::Error::msg)
}

/// Bytes read from the seat's UART, stamped when they arrived.
type Chunk = (Instant, Vec<u8>);

/// Where a QEMU seat's UART0 goes.
#[derive(Clone, Copy, Debug)]
pub enum Uart<'a> {
    /// A pty the test reads and writes itself, playing the host with [`HostSide`].
    Test,
    /// A pty left for the daemon to open as a serial line, reachable through a symlink at this
    /// path: the daemon's config names the link, which stays valid when the seat restarts on a
    /// new `/dev/pts` (as a udev `by-id` link does for a replugged adapter).
    Daemon(&'a Path),
    /// A unix socket QEMU listens on, for a proxy between the seat and the daemon.
    Socket(&'a Path),
}

/// One seat firmware running in QEMU.
pub struct QemuSeat {
    child: Child,
    /// The provisioned seat id (`None`: booted without a provisioning block).
    pub seat: Option<SeatId>,
    /// The pty QEMU connected UART0 to (none with [`Uart::Socket`]).
    pub pty: Option<PathBuf>,
    /// The test's end of the UART, with [`Uart::Test`].
    test_end: Option<(std::fs::File, Receiver<Chunk>)>,
    qmp: BufReader<UnixStream>,
    stderr: Arc<Mutex<String>>,
    dir: tempfile::TempDir,
    booted: Instant,
    /// When each chunk of UART bytes arrived (since boot) and its length: for failure messages.
    pub arrivals: Vec<(Duration, usize)>,
}

impl QemuSeat {
    /// Boots the firmware provisioned as `seat` with `key`, or unprovisioned with `None`; the
    /// test plays the host on its UART.
    pub fn boot(prov: Option<(SeatId, &SeatKey)>) -> anyhow::Result<Self> {
        Self::boot_with(prov, Uart::Test)
    }

    /// Boots the firmware with its UART where `uart` says.
    pub fn boot_with(prov: Option<(SeatId, &SeatKey)>, uart: Uart<'_>) -> anyhow::Result<Self> {
        let elf = firmware_elf()?;
        let dir = tempfile::tempdir()?;
        let booted = Instant::now();
        let qmp_path = dir.path().join("qmp.sock");
        let mut cmd = Command::new("qemu-system-arm");
        cmd.args([
            "-cpu",
            "cortex-m3",
            "-M",
            "lm3s6965evb",
            "-display",
            "none",
            "-monitor",
            "none",
        ])
        .args(["-semihosting-config", "enable=on,target=native"])
        .args(["-device", "tmp105,id=t0,address=0x48"])
        .arg("-serial")
        .arg(match uart {
            Uart::Socket(path) => format!("unix:{},server=on,wait=off", path.display()),
            Uart::Test | Uart::Daemon(_) => "pty".into(),
        })
        .arg("-qmp")
        .arg(format!("unix:{},server=on,wait=off", qmp_path.display()));
        if let Some((seat, key)) = prov {
            let blob = dir.path().join("prov.bin");
            let block = Provision {
                seat,
                key: key.clone(),
            }
            .encode();
            std::fs::write(&blob, block)?;
            cmd.arg("-device").arg(format!(
                "loader,file={},addr={PROVISION_ADDR:#x},force-raw=on",
                blob.display()
            ));
        }
        cmd.arg("-kernel")
            .arg(&elf)
            .current_dir(dir.path())
            // defmt frames (binary) go to a file: `defmt-print -e <elf> < defmt.bin` reads them.
            .stdout(std::fs::File::create(dir.path().join("defmt.bin"))?)
            .stderr(Stdio::piped())
            .stdin(Stdio::null())
            .process_group(0);
        let mut child = cmd.spawn().context("spawn qemu-system-arm (is it installed?)")?;
        let stderr = Arc::new(Mutex::new(String::new()));
        {
            let pipe = child.stderr.take().context("stderr pipe")?;
            let log = stderr.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if let Ok(mut l) = log.lock() {
                        l.push_str(&line);
                        l.push('\n');
                    }
                }
            });
        }
        let guard = KillOnError(Some(child));
        let mut qmp = qmp_connect(&qmp_path).with_context(|| {
            format!(
                "QMP; QEMU stderr:\n{}",
                stderr.lock().map(|s| s.clone()).unwrap_or_default()
            )
        })?;
        let (pty, test_end) = match uart {
            Uart::Socket(_) => (None, None),
            Uart::Test => {
                let pty = pty_of(&mut qmp)?;
                let end = open_pty(&pty)?;
                (Some(pty), Some(end))
            }
            Uart::Daemon(link) => {
                let pty = pty_of(&mut qmp)?;
                let _ = std::fs::remove_file(link);
                std::os::unix::fs::symlink(&pty, link)
                    .with_context(|| format!("link {} → {}", link.display(), pty.display()))?;
                (Some(pty), None)
            }
        };
        let child = guard.defuse();
        Ok(Self {
            child,
            seat: prov.map(|(s, _)| s),
            pty,
            test_end,
            qmp,
            stderr,
            dir,
            booted,
            arrivals: Vec::new(),
        })
    }

    /// QEMU's stderr so far (for failure messages).
    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The folder with this instance's provisioning blob, QMP socket and defmt log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Sets the emulated TMP105's temperature (milli-°C) over QMP `qom-set`.
    pub fn set_temperature(&mut self, milli_c: i32) -> anyhow::Result<()> {
        let cmd = format!(
            r#"{{"execute":"qom-set","arguments":{{"path":"/machine/peripheral/t0","property":"temperature","value":{milli_c}}}}}"#
        );
        qmp_execute(&mut self.qmp, &cmd).map(drop)
    }

    /// Writes host bytes to the seat's UART.
    pub fn write(&mut self, bytes: &[u8]) -> anyhow::Result<()> {
        let (writer, _) = self.test_end.as_mut().context("the UART is not the test's")?;
        writer.write_all(bytes)?;
        writer.flush()?;
        Ok(())
    }

    /// The next chunk of UART bytes within `timeout`; `Ok(None)` on timeout, an error once the
    /// emulator is gone (the pty closed).
    pub fn read_chunk(&mut self, timeout: Duration) -> anyhow::Result<Option<Chunk>> {
        let (_, rx) = self.test_end.as_ref().context("the UART is not the test's")?;
        match rx.recv_timeout(timeout) {
            Ok(c) => {
                self.arrivals.push((c.0 - self.booted, c.1.len()));
                Ok(Some(c))
            }
            Err(RecvTimeoutError::Timeout) => Ok(None),
            Err(RecvTimeoutError::Disconnected) => bail!("the seat's pty closed"),
        }
    }

    /// Pulls the plug: SIGKILL to QEMU's whole process group, then reaps it.
    pub fn kill(&mut self) {
        let pid = nix::unistd::Pid::from_raw(self.child.id() as i32);
        let _ = nix::sys::signal::killpg(pid, nix::sys::signal::Signal::SIGKILL);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Whether the QEMU process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for QemuSeat {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Kills a half-started QEMU if `boot` fails after spawning it.
struct KillOnError(Option<Child>);

impl KillOnError {
    fn defuse(mut self) -> Child {
        self.0.take().expect("child present until defused")
    }
}

impl Drop for KillOnError {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = nix::sys::signal::killpg(
                nix::unistd::Pid::from_raw(c.id() as i32),
                nix::sys::signal::Signal::SIGKILL,
            );
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The pty QEMU chose for UART0 (it prints it on stdout, where the defmt stream goes too: ask
/// QMP instead).
fn pty_of(qmp: &mut BufReader<UnixStream>) -> anyhow::Result<PathBuf> {
    let chardevs = qmp_execute(qmp, r#"{"execute":"query-chardev"}"#)?;
    chardevs
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["label"] == "serial0")
        .and_then(|c| c["filename"].as_str())
        .and_then(|f| f.strip_prefix("pty:"))
        .map(PathBuf::from)
        .with_context(|| format!("no pty for serial0 in {chardevs}"))
}

/// Opens the pty slave in raw mode; a thread forwards what it reads until QEMU closes it.
fn open_pty(path: &Path) -> anyhow::Result<(std::fs::File, Receiver<Chunk>)> {
    use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .custom_flags(nix::libc::O_NOCTTY)
        .open(path)
        .with_context(|| format!("open {}", path.display()))?;
    let mut t = tcgetattr(&file)?;
    cfmakeraw(&mut t);
    tcsetattr(&file, SetArg::TCSANOW, &t)?;
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
    Ok((file, rx))
}

fn qmp_connect(path: &Path) -> anyhow::Result<BufReader<UnixStream>> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let stream = loop {
        match UnixStream::connect(path) {
            Ok(s) => break s,
            Err(e) if Instant::now() > deadline => return Err(e).context("connect to QMP"),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut qmp = BufReader::new(stream);
    let mut greeting = String::new();
    qmp.read_line(&mut greeting)?;
    if !greeting.contains("QMP") {
        bail!("unexpected QMP greeting: {greeting}");
    }
    qmp_execute(&mut qmp, r#"{"execute":"qmp_capabilities"}"#)?;
    Ok(qmp)
}

/// Sends one QMP command and returns its `return` value (skipping asynchronous events).
fn qmp_execute(qmp: &mut BufReader<UnixStream>, cmd: &str) -> anyhow::Result<serde_json::Value> {
    qmp.get_mut().write_all(cmd.as_bytes())?;
    qmp.get_mut().write_all(b"\n")?;
    loop {
        let mut line = String::new();
        if qmp.read_line(&mut line)? == 0 {
            bail!("QMP closed");
        }
        let v: serde_json::Value = serde_json::from_str(&line).with_context(|| format!("QMP: {line}"))?;
        if let Some(r) = v.get("return") {
            return Ok(r.clone());
        }
        if let Some(e) = v.get("error") {
            bail!("QMP {cmd}: {e}");
        }
    }
}

/// One frame the seat sent, as the host saw it.
#[derive(Clone, Debug)]
pub struct Received {
    /// When its last byte arrived.
    pub at: Instant,
    /// The wire bytes including the delimiter (to replay it later).
    pub wire: Vec<u8>,
    /// What the host's link made of it.
    pub verdict: Result<Verified, AuthError>,
}

impl Received {
    /// The verified message, if it verified.
    pub fn message(&self) -> Option<&Message> {
        self.verdict.as_ref().ok().map(|v| &v.message)
    }
}

/// The test's end of a seat line: a [`HostLink`] for one seat, as the daemon runs it. It outlives
/// a seat's QEMU process, so a restarted seat meets the same host state (sessions, anti-replay).
pub struct HostSide {
    /// The host's link state for this seat.
    pub link: HostLink,
    decoder: FrameDecoder<MAX_WIRE>,
    partial: Vec<u8>,
    partial_at: Instant,
    last_sent: Instant,
    /// Every frame received so far, in order.
    pub log: Vec<Received>,
}

impl HostSide {
    /// A host end for `seat` with `key`.
    pub fn new(seat: SeatId, key: &SeatKey) -> Self {
        Self {
            link: HostLink::new(seat, Some(key)),
            decoder: FrameDecoder::new(),
            partial: Vec::new(),
            partial_at: Instant::now(),
            last_sent: Instant::now(),
            log: Vec::new(),
        }
    }

    /// The next frame within `timeout` (`Ok(None)` on timeout). Pings the seat every 2 s while
    /// a session is open, as the daemon does, so it never re-hellos mid-test.
    pub fn recv(&mut self, seat: &mut QemuSeat, timeout: Duration) -> anyhow::Result<Option<Received>> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(pos) = self.partial.iter().position(|&b| b == 0) {
                let wire: Vec<u8> = self.partial.drain(..=pos).collect();
                let Some(r) = self.verdict_of(&wire) else { continue };
                self.log.push(r.clone());
                return Ok(Some(r));
            }
            if self.link.has_session() && self.last_sent.elapsed() > Duration::from_secs(2) {
                self.command(seat, &Message::Ping(Ping {}))?;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            if let Some((at, bytes)) = seat.read_chunk(left.min(Duration::from_millis(200)))? {
                self.partial_at = at;
                self.partial.extend_from_slice(&bytes);
            }
        }
    }

    fn verdict_of(&mut self, wire: &[u8]) -> Option<Received> {
        let mut out = None;
        let link = &mut self.link;
        self.decoder.feed(wire, |f| {
            if let Ok(raw) = f {
                out = Some(link.accept(&raw));
            }
        });
        // Line noise (no frame) is skipped; a frame always gets a verdict.
        let at = self.partial_at;
        out.map(|verdict| Received {
            at,
            wire: wire.to_vec(),
            verdict,
        })
    }

    /// Waits for a frame whose verified message satisfies `pred`.
    pub fn wait_for(
        &mut self,
        seat: &mut QemuSeat,
        timeout: Duration,
        mut pred: impl FnMut(&Message) -> bool,
    ) -> anyhow::Result<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.recv(seat, left)? {
                Some(r) if r.message().is_some_and(&mut pred) => return Ok(r),
                Some(_) => {}
                None => bail!(
                    "no matching frame within {timeout:?}; received {} frames; UART chunks (since \
                     boot, bytes): {:?}; QEMU stderr:\n{}",
                    self.log.len(),
                    seat.arrivals,
                    seat.stderr()
                ),
            }
        }
    }

    /// Waits for a verified `Hello`.
    pub fn wait_hello(&mut self, seat: &mut QemuSeat, timeout: Duration) -> anyhow::Result<Hello> {
        let r = self.wait_for(seat, timeout, |m| matches!(m, Message::Hello(_)))?;
        match r.message() {
            Some(Message::Hello(h)) => Ok(h.clone()),
            _ => unreachable!("wait_for matched a Hello"),
        }
    }

    /// The whole handshake: waits for `Hello`, answers with a fresh `Session`, and waits for the
    /// first frame under it. Returns the `Hello` and how the session was established.
    pub fn handshake(&mut self, seat: &mut QemuSeat) -> anyhow::Result<(Hello, SessionChange)> {
        let hello = self.wait_hello(seat, Duration::from_secs(5))?;
        let mut buf = [0u8; MAX_WIRE];
        let wire = self
            .link
            .respond_to_hello(&hello, rand::random(), &mut buf)
            .map_err(|e| anyhow::anyhow!("respond_to_hello: {e}"))?
            .to_vec();
        seat.write(&wire)?;
        self.last_sent = Instant::now();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let Some(r) = self.recv(seat, left)? else {
                bail!("the seat never used the session; QEMU stderr:\n{}", seat.stderr())
            };
            if let Ok(v) = &r.verdict {
                if let SessionChange::Established { .. } = v.session {
                    return Ok((hello, v.session));
                }
            }
        }
    }

    /// Sends a command; returns its counter (what the seat's `Ack` echoes).
    pub fn command(&mut self, seat: &mut QemuSeat, msg: &Message) -> anyhow::Result<u32> {
        let mut buf = [0u8; MAX_WIRE];
        let (counter, wire) = self
            .link
            .encode(msg, &mut buf)
            .map_err(|e| anyhow::anyhow!("encode {msg:?}: {e}"))?;
        let wire = wire.to_vec();
        seat.write(&wire)?;
        self.last_sent = Instant::now();
        Ok(counter)
    }
}
