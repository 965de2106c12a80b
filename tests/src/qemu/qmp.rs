//! QEMU's machine protocol (QMP) over its unix socket: how the rig learns which pty QEMU gave the
//! seat's UART and how a test sets the emulated TMP105's temperature.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};

/// A QMP connection, capabilities negotiated: one per QEMU, owned by its [`super::QemuSeat`].
pub struct Qmp(BufReader<UnixStream>);

impl Qmp {
    /// Connects to QEMU's QMP socket (retrying for 10 s while QEMU starts) and negotiates
    /// capabilities.
    pub fn connect(path: &Path) -> anyhow::Result<Self> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let stream = loop {
            match UnixStream::connect(path) {
                Ok(s) => break s,
                Err(e) if Instant::now() > deadline => return Err(e).context("connect to QMP"),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        };
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let mut qmp = Self(BufReader::new(stream));
        let mut greeting = String::new();
        qmp.0.read_line(&mut greeting)?;
        if !greeting.contains("QMP") {
            bail!("unexpected QMP greeting: {greeting}");
        }
        qmp.execute(r#"{"execute":"qmp_capabilities"}"#)?;
        Ok(qmp)
    }

    /// Sends one QMP command and returns its `return` value (skipping asynchronous events).
    pub fn execute(&mut self, cmd: &str) -> anyhow::Result<serde_json::Value> {
        self.0.get_mut().write_all(cmd.as_bytes())?;
        self.0.get_mut().write_all(b"\n")?;
        loop {
            let mut line = String::new();
            if self.0.read_line(&mut line)? == 0 {
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

    /// The pty QEMU chose for UART0 (it prints it on stdout, where the defmt stream goes too: ask
    /// QMP instead).
    pub fn serial_pty(&mut self) -> anyhow::Result<PathBuf> {
        let chardevs = self.execute(r#"{"execute":"query-chardev"}"#)?;
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

    /// Sets the emulated TMP105's temperature (milli-°C) with `qom-set`.
    pub fn set_temperature(&mut self, milli_c: i32) -> anyhow::Result<()> {
        let cmd = format!(
            r#"{{"execute":"qom-set","arguments":{{"path":"/machine/peripheral/t0","property":"temperature","value":{milli_c}}}}}"#
        );
        self.execute(&cmd).map(drop)
    }
}
