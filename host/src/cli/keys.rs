//! `hemiwatch keys`: seat keys made and handed to the boards without anyone copying hex.
//!
//! - `keys generate --dir DIR --seats 1-577` draws each key from the operating system's CSPRNG
//!   (`getrandom` through `rand::rngs::OsRng`) and writes one `seat-NNNN.key` file per seat
//!   (32 hex digits, mode 0600, the folder 0700): the folder `[hemicycle] key_dir` reads. A key
//!   file already there is kept, never replaced: its board may be provisioned with it.
//! - `keys provision SEAT --out FILE [--config FILE]` writes the firmware's 32-byte provisioning
//!   block (`hemiwatch_firmware::provision`, the format's one home) holding the key the daemon
//!   itself resolves for that seat from its config, for `probe-rs download` (firmware/README.md).

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context};
use hemiwatch_firmware::provision::Provision;
use hemiwatch_protocol::{SeatId, SeatKey};
use rand::TryRngCore;

use super::{config_failed, settings_of};
use crate::config::{audit_keys, key_file_name};

/// Arguments of `hemiwatch keys`.
#[derive(Debug, clap::Args)]
pub struct KeysArgs {
    /// What to do with keys.
    #[command(subcommand)]
    pub command: KeysCommand,
}

/// `keys` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum KeysCommand {
    /// Draw a fresh random key for each seat into a key folder (one 0600 file per seat).
    ///
    /// Existing key files are kept. Point `[hemicycle] key_dir` at the folder.
    Generate {
        /// The key folder (created 0700 if missing).
        #[arg(long)]
        dir: PathBuf,
        /// Seats, e.g. `1-577` or `1-72,80`.
        #[arg(long)]
        seats: String,
    },
    /// Write a seat's 32-byte provisioning block (seat id, key, CRC-32) for the flasher.
    ///
    /// The key is the one the daemon uses for the seat under `--config`.
    Provision {
        /// The seat.
        seat: SeatId,
        /// Where to write the block (mode 0600).
        #[arg(long)]
        out: PathBuf,
        /// Configuration file [default: the embedded one, whose keys are demo keys].
        #[arg(long, env = "HEMIWATCH_CONFIG")]
        config: Option<PathBuf>,
        /// Accept a demo, duplicated or all-zero key (a lab board, never a real seat).
        #[arg(long)]
        allow_demo_keys: bool,
    },
}

/// Runs `keys`.
pub fn run(args: &KeysArgs) -> anyhow::Result<ExitCode> {
    match &args.command {
        KeysCommand::Generate { dir, seats } => {
            let seats = parse_seats(seats)?;
            let (written, kept) = generate(dir, &seats)?;
            println!(
                "{}: {written} key(s) written, {kept} kept (already there); set [hemicycle] key_dir = \"{}\"",
                dir.display(),
                dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        KeysCommand::Provision {
            seat,
            out,
            config,
            allow_demo_keys,
        } => {
            let settings = match settings_of(config.as_deref()) {
                Ok(s) => s,
                Err(e) => return Ok(config_failed(&e)),
            };
            let Some(key) = settings
                .seats
                .iter()
                .find(|s| s.place.id == *seat)
                .and_then(|s| s.key.clone())
            else {
                bail!("seat {seat} is not configured, or has no key");
            };
            let weak = audit_keys(
                settings
                    .seats
                    .iter()
                    .filter_map(|s| s.key.as_ref().map(|k| (s.place.id, k))),
            );
            let mine: Vec<_> = weak.iter().filter(|w| w.concerns(*seat)).collect();
            if !mine.is_empty() && !allow_demo_keys {
                for w in mine {
                    eprintln!("hemiwatch: error: {w}");
                }
                eprintln!("hemiwatch: refusing to provision seat {seat} with a weak key (--allow-demo-keys for a lab board)");
                return Ok(ExitCode::from(2));
            }
            write_block(out, *seat, key)?;
            println!(
                "{}: provisioning block for seat {seat} (32 bytes); flash it with probe-rs (see firmware/README.md)",
                out.display()
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// `1-577`, `1-72,80`: the seats, in order, without repeats.
fn parse_seats(spec: &str) -> anyhow::Result<Vec<SeatId>> {
    let mut out = std::collections::BTreeSet::new();
    for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let parse = |v: &str| {
            v.trim()
                .parse::<SeatId>()
                .ok()
                .filter(|&n| n > 0)
                .with_context(|| format!("--seats: \"{v}\" is not a seat number (1 to 65535)"))
        };
        let (a, b) = (parse(a)?, parse(b)?);
        if a > b {
            bail!("--seats: {part} runs backwards");
        }
        out.extend(a..=b);
    }
    if out.is_empty() {
        bail!("--seats names no seat; write e.g. 1-577");
    }
    Ok(out.into_iter().collect())
}

/// Writes a fresh key file per seat in `dir`; returns (written, kept).
fn generate(dir: &Path, seats: &[SeatId]) -> anyhow::Result<(usize, usize)> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let (mut written, mut kept) = (0, 0);
    for &seat in seats {
        let path = dir.join(key_file_name(seat));
        let mut key = [0u8; 16];
        rand::rngs::OsRng
            .try_fill_bytes(&mut key)
            .context("the operating system's random source failed")?;
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        match private_file(&path) {
            Ok(mut f) => {
                f.write_all(format!("{hex}\n").as_bytes())
                    .and_then(|()| f.sync_all())
                    .with_context(|| format!("cannot write {}", path.display()))?;
                written += 1;
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => kept += 1,
            Err(e) => return Err(e).with_context(|| format!("cannot create {}", path.display())),
        }
    }
    Ok((written, kept))
}

/// A new file readable by its owner only; fails if it exists.
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

/// Writes the provisioning block (replacing an older block file).
fn write_block(out: &Path, seat: SeatId, key: SeatKey) -> anyhow::Result<()> {
    let block = Provision { seat, key }.encode();
    let _ = std::fs::remove_file(out);
    let mut f = private_file(out).with_context(|| format!("cannot create {}", out.display()))?;
    f.write_all(&block)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("cannot write {}", out.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seat_lists_are_read() {
        assert_eq!(parse_seats("1-3,7").unwrap(), [1, 2, 3, 7]);
        assert_eq!(parse_seats("5").unwrap(), [5]);
        assert!(parse_seats("3-1").is_err());
        assert!(parse_seats("0-2").is_err());
        assert!(parse_seats("").is_err());
    }
}
