//! Pseudo-terminals as serial lines: the simulator holds the master side, the daemon opens the
//! slave device exactly as it would open `/dev/ttyUSB0` (through tokio-serial), so the daemon's
//! real serial path is what gets exercised.
//!
//! A stable symlink (like udev's `/dev/serial/by-id/...`) points at the current slave, so that
//! "unplugging" (closing the pair) and "replugging" (a new pair, symlink re-pointed) looks to the
//! daemon like a USB adapter that went away and came back under the same name.

use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

use nix::fcntl::{fcntl, FcntlArg, OFlag};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
use tokio::io::unix::AsyncFd;

/// The simulator's end of a pty pair, with non-blocking async I/O.
pub struct PtyMaster {
    master: AsyncFd<std::fs::File>,
    // Held open so the slave's raw termios settings stick and the master never reads EIO while
    // the daemon has not opened the slave yet.
    _slave: OwnedFd,
    slave_path: PathBuf,
    link: Option<PathBuf>,
}

impl PtyMaster {
    /// Opens a raw (no echo, no line discipline) pty pair; if `link` is given, (re)points that
    /// symlink at the slave device.
    pub fn open(link: Option<&Path>) -> io::Result<Self> {
        let pair = nix::pty::openpty(None, None).map_err(io::Error::from)?;
        let mut tio = tcgetattr(&pair.slave).map_err(io::Error::from)?;
        cfmakeraw(&mut tio);
        tcsetattr(&pair.slave, SetArg::TCSANOW, &tio).map_err(io::Error::from)?;
        let slave_path = std::fs::read_link(format!("/proc/self/fd/{}", pair.slave.as_raw_fd()))?;
        let flags = OFlag::from_bits_truncate(fcntl(pair.master.as_raw_fd(), FcntlArg::F_GETFL)?);
        fcntl(
            pair.master.as_raw_fd(),
            FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK),
        )?;
        if let Some(link) = link {
            let tmp = link.with_extension("hemiwatch-tmp");
            let _ = std::fs::remove_file(&tmp);
            std::os::unix::fs::symlink(&slave_path, &tmp)?;
            std::fs::rename(&tmp, link)?; // atomic re-point
        }
        let file = std::fs::File::from(pair.master);
        // SAFETY: `file` owns the master fd and moves into the AsyncFd, which owns it until
        // drop; a File's `as_raw_fd` always returns the fd it was built from.
        let master = unsafe { AsyncFd::register(file) }.map_err(io::Error::other)?;
        Ok(Self {
            master,
            _slave: pair.slave,
            slave_path,
            link: link.map(Path::to_path_buf),
        })
    }

    /// The slave device path (`/dev/pts/N`).
    pub fn slave_path(&self) -> &Path {
        &self.slave_path
    }

    /// The stable symlink, if any.
    pub fn link(&self) -> Option<&Path> {
        self.link.as_deref()
    }

    /// Reads what the daemon wrote.
    pub async fn read(&self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let mut guard = self.master.readable().await?;
            match guard.try_io(|f| f.get_ref().read(buf)) {
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }

    /// Writes all of `data` (seat frames) for the daemon to read.
    pub async fn write_all(&self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let mut guard = self.master.writable().await?;
            match guard.try_io(|f| f.get_ref().write(data)) {
                Ok(Ok(n)) => data = &data[n..],
                Ok(Err(e)) => return Err(e),
                Err(_would_block) => continue,
            }
        }
        Ok(())
    }
}
