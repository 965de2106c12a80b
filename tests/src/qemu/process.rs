//! One seat firmware in QEMU as a process: the command line (machine, sensor, provisioning
//! block, UART, QMP socket), its stderr kept for failure messages, the test's raw end of its UART
//! pty, and a process group killed whole when the handle drops.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use hemiwatch_firmware::provision::Provision;
use hemiwatch_protocol::{SeatId, SeatKey};

use super::firmware_elf;
use super::qmp::Qmp;

/// Address of the provisioning block (the last 1 KiB flash page, see the board's `memory.x`).
pub const PROVISION_ADDR: u32 = 0x3FC00;

/// Address of the boot count word: the last word of the provisioning page (the board's
/// `memory.x`, `_boot_count_word`). QEMU 7.2 emulates no flash controller, so the rig keeps the
/// count the Black Pill keeps in flash, and writes it for each start.
pub const BOOT_COUNT_ADDR: u32 = 0x3FFFC;

/// QEMU starts in this test process: each start is a boot, numbered from 1.
static BOOTS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// Bytes read from the seat's UART, stamped when they arrived.
pub type Chunk = (Instant, Vec<u8>);

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
    qmp: Qmp,
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
            // A file, not `data=`: the loader's data is a CPU write at reset, which ROM ignores.
            let boot = BOOTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            let count = dir.path().join("boot-count.bin");
            std::fs::write(&count, boot.to_le_bytes())?;
            cmd.arg("-device").arg(format!(
                "loader,file={},addr={BOOT_COUNT_ADDR:#x},force-raw=on",
                count.display()
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
        let mut qmp = Qmp::connect(&qmp_path).with_context(|| {
            format!(
                "QMP; QEMU stderr:\n{}",
                stderr.lock().map(|s| s.clone()).unwrap_or_default()
            )
        })?;
        let (pty, test_end) = match uart {
            Uart::Socket(_) => (None, None),
            Uart::Test => {
                let pty = qmp.serial_pty()?;
                let end = open_pty(&pty)?;
                (Some(pty), Some(end))
            }
            Uart::Daemon(link) => {
                let pty = qmp.serial_pty()?;
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
        self.qmp.set_temperature(milli_c)
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
