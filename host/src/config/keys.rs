//! Seat keys: inline (`key`), a file per seat (`key_file`), a folder of `seat-NNNN.key` files
//! (`[hemicycle] key_dir`) or, for demonstrations only, the public demo keys
//! (`[hemicycle] keys = "demo"`). Key files are read here; a missing one is reported with the
//! path looked for, and the missing files of a `key_dir` are reported together.

use std::ops::Range;
use std::path::{Path, PathBuf};

use hemiwatch_protocol::{SeatId, SeatKey};
use serde::Deserialize;
use serde_spanned::Spanned;

use super::hemicycle::HemicycleSection;
use super::resolve::Resolver;
use super::schema::File;

/// `keys = "demo"` in `[hemicycle]`: the only value, spelled out so that using public demo keys
/// is a visible decision in the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
pub(crate) enum KeysPolicy {
    /// Keys derived by `hemiwatch_protocol::demo_key` from the public demo secret.
    #[serde(rename = "demo")]
    Demo,
}

/// Where a seat's key comes from, before files are read.
#[derive(Clone, Debug)]
pub(super) enum KeySource {
    /// `key = "..."`.
    Inline(SeatKey),
    /// `key_file`, as written and the span to point at.
    File(Spanned<PathBuf>),
    /// `keys = "demo"`.
    Demo,
    /// A file in `key_dir`, reported together with the other missing ones.
    Dir(PathBuf),
}

/// What the keys of all seats add up to, reported once after the last seat.
#[derive(Debug, Default)]
pub(super) struct KeyTally {
    /// Seats whose file is missing from `key_dir`, with the path looked for.
    missing_in_dir: Vec<(SeatId, PathBuf)>,
    /// Seats on demo keys.
    demo: usize,
}

impl Resolver<'_> {
    /// How `[hemicycle]` (and seats added without a key) get their keys.
    pub(super) fn key_policy(
        &mut self,
        h: &HemicycleSection,
        file: &File,
        span: Range<usize>,
    ) -> Option<Box<dyn Fn(SeatId) -> KeySource>> {
        match (&h.keys, &h.key_dir) {
            (Some(_), Some(dir)) => {
                self.err(
                    dir.span(),
                    "[hemicycle] has both keys = \"demo\" and key_dir; keep one",
                );
                None
            }
            (Some(k), None) => match k.get_ref() {
                KeysPolicy::Demo => Some(Box::new(|_| KeySource::Demo)),
            },
            (None, Some(dir)) => {
                let full = self.base.join(dir.get_ref());
                if self.read_files && !full.is_dir() {
                    self.err(
                        dir.span(),
                        format!(
                            "key_dir {} does not exist or is not a folder (looked for {})",
                            dir.get_ref().display(),
                            full.display()
                        ),
                    );
                    return None;
                }
                Some(Box::new(move |id| KeySource::Dir(full.join(key_file_name(id)))))
            }
            (None, None) => {
                let bad = &file.hemicycle_bad_keys;
                if bad.iter().any(|k| k == "keys" || k == "key_dir") {
                    return None; // its bad value was reported
                }
                self.err(
                    span,
                    "[hemicycle] needs keys: key_dir = \"keys/\" (one file seat-0042.key per seat) or, for demos only, keys = \"demo\"",
                );
                None
            }
        }
    }

    /// The key of seat `id` from its source: a file read (when files are read), a demo key
    /// derived; problems reported, or counted in `tally` to be reported together.
    pub(super) fn seat_key(
        &mut self,
        id: SeatId,
        source: Option<&KeySource>,
        file: &File,
        tally: &mut KeyTally,
    ) -> Option<SeatKey> {
        match source {
            Some(KeySource::Inline(k)) => Some(k.clone()),
            Some(KeySource::Demo) => {
                tally.demo += 1;
                Some(hemiwatch_protocol::demo_key(id))
            }
            Some(KeySource::File(f)) => self.key_file(id, f),
            Some(KeySource::Dir(path)) => {
                if self.read_files {
                    match read_key(path) {
                        Ok(k) => Some(k),
                        Err(KeyFileError::Missing) => {
                            tally.missing_in_dir.push((id, path.clone()));
                            None
                        }
                        Err(e) => {
                            let span = dir_span(file);
                            self.err(span, format!("key file {} for seat {}: {e}", path.display(), id));
                            None
                        }
                    }
                } else {
                    None
                }
            }
            None => None,
        }
    }

    /// After the last seat: the `key_dir` files missing, in one error, and the demo-keys warning.
    pub(super) fn report_keys(&mut self, file: &File, tally: KeyTally) {
        let KeyTally { missing_in_dir, demo } = tally;
        if !missing_in_dir.is_empty() {
            let shown: Vec<String> = missing_in_dir
                .iter()
                .take(10)
                .map(|(id, _)| id.to_string())
                .collect();
            let more = missing_in_dir.len().saturating_sub(10);
            let example = missing_in_dir[0].1.display().to_string();
            self.err(
                dir_span(file),
                format!(
                    "key_dir has no key file for {} seat(s): {}{} (expected e.g. {example})",
                    missing_in_dir.len(),
                    shown.join(", "),
                    if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    }
                ),
            );
        }
        if demo > 0 && self.read_files && self.warn_demo_keys {
            tracing::warn!(
                seats = demo,
                "keys = \"demo\": these seat keys are derived from a PUBLIC secret; anyone can forge their frames. For demonstrations only, never in a real hemicycle"
            );
        }
    }

    /// The key in `key_file`, relative to the config's folder.
    fn key_file(&mut self, id: SeatId, f: &Spanned<PathBuf>) -> Option<SeatKey> {
        if !self.read_files {
            return None;
        }
        let written = f.get_ref();
        let full = self.base.join(written);
        match read_key(&full) {
            Ok(k) => Some(k),
            Err(KeyFileError::Missing) => {
                self.err(
                    f.span(),
                    format!(
                        "key_file {} for seat {id} does not exist (looked for {})",
                        written.display(),
                        full.display()
                    ),
                );
                None
            }
            Err(e) => {
                self.err(
                    f.span(),
                    format!("key_file {} for seat {id}: {e}", written.display()),
                );
                None
            }
        }
    }
}

/// The span to blame for key_dir problems.
fn dir_span(file: &File) -> Range<usize> {
    file.hemicycle
        .as_ref()
        .map(|h| {
            h.get_ref()
                .key_dir
                .as_ref()
                .map(|d| d.span())
                .unwrap_or_else(|| h.span())
        })
        .unwrap_or(0..0)
}

/// The file name of a seat's key in a `key_dir`: `seat-0042.key`, four digits so that a folder
/// listing sorts by seat.
pub fn key_file_name(id: SeatId) -> String {
    format!("seat-{id:04}.key")
}

/// Largest key file read: 32 hex digits with generous whitespace around them, or 16 raw bytes,
/// fit many times over. Reading stops there, so that a `key_file` naming a huge file is refused
/// instead of read into memory.
const MAX_KEY_FILE: u64 = 4096;

/// Why a key file is unusable.
#[derive(Debug, thiserror::Error)]
enum KeyFileError {
    #[error("does not exist")]
    Missing,
    #[error("cannot be read: {0}")]
    Io(std::io::Error),
    /// A device (`/dev/zero` never ends), a pipe (blocks until written) or a folder: only a
    /// regular file holds a key.
    #[error("is not a regular file; a key file holds 32 hex digits or 16 raw bytes")]
    NotAFile,
    #[error("is larger than {MAX_KEY_FILE} bytes; expected 32 hex digits or 16 raw bytes")]
    TooLarge,
    #[error("holds {0} bytes; expected 32 hex digits or 16 raw bytes")]
    Format(usize),
}

/// Reads a key file: 32 hex digits (whitespace around them ignored) or exactly 16 raw bytes.
/// Only a regular file (a symbolic link to one is followed) of at most [`MAX_KEY_FILE`] bytes is
/// read; its type is checked before it is opened, since opening a pipe blocks.
fn read_key(path: &Path) -> Result<SeatKey, KeyFileError> {
    use std::io::Read;
    let io = |e: std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => KeyFileError::Missing,
        _ => KeyFileError::Io(e),
    };
    if !std::fs::metadata(path).map_err(io)?.is_file() {
        return Err(KeyFileError::NotAFile);
    }
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .map_err(io)?
        .take(MAX_KEY_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(KeyFileError::Io)?;
    if bytes.len() as u64 > MAX_KEY_FILE {
        return Err(KeyFileError::TooLarge);
    }
    if let Some(k) = std::str::from_utf8(&bytes)
        .ok()
        .and_then(|t| super::schema::parse_hex_key(t).ok())
    {
        warn_if_readable_by_others(path);
        return Ok(k);
    }
    if let Ok(raw) = <[u8; 16]>::try_from(bytes.as_slice()) {
        warn_if_readable_by_others(path);
        return Ok(SeatKey(raw));
    }
    Err(KeyFileError::Format(bytes.len()))
}

/// A seat key readable by other users can be used to forge that seat's frames: say so.
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path) {
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(
                path = %path.display(),
                "key file is readable by other users; chmod 600 it"
            );
        }
    }
}

/// A seat key `run` refuses (unless `--allow-demo-keys`) and `check-config` reports: a key
/// anyone can know or that does not tell seats apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WeakKeys {
    /// Seats whose key is their public demo key ([`hemiwatch_protocol::demo_key`]).
    Demo(Vec<SeatId>),
    /// Seats sharing one key (each group shares one): one seat's key forges the others.
    Duplicate(Vec<Vec<SeatId>>),
    /// Seats whose key is all zeros (a placeholder never replaced).
    Zero(Vec<SeatId>),
}

impl std::fmt::Display for WeakKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        /// At most this many seats are listed in a sentence.
        const SHOWN: usize = 10;
        let list = |ids: &[SeatId]| {
            let mut s: Vec<String> = ids.iter().take(SHOWN).map(|i| i.to_string()).collect();
            if ids.len() > SHOWN {
                s.push(format!("and {} more", ids.len() - SHOWN));
            }
            s.join(", ")
        };
        match self {
            Self::Demo(ids) => write!(
                f,
                "{} seat(s) use their PUBLIC demo key (anyone can forge their frames): {}",
                ids.len(),
                list(ids)
            ),
            Self::Duplicate(groups) => {
                let shown: Vec<String> = groups.iter().take(SHOWN).map(|g| list(g)).collect();
                write!(
                    f,
                    "{} group(s) of seats share a key (one seat's key forges the others'): {}",
                    groups.len(),
                    shown.join("; ")
                )
            }
            Self::Zero(ids) => write!(f, "{} seat(s) have an all-zero key: {}", ids.len(), list(ids)),
        }
    }
}

impl WeakKeys {
    /// Whether `seat` is one of the seats found.
    pub fn concerns(&self, seat: SeatId) -> bool {
        match self {
            Self::Demo(ids) | Self::Zero(ids) => ids.contains(&seat),
            Self::Duplicate(groups) => groups.iter().any(|g| g.contains(&seat)),
        }
    }
}

/// The weak keys among `seats` (seats without a key are not judged): see [`WeakKeys`].
pub fn audit_keys<'a>(seats: impl IntoIterator<Item = (SeatId, &'a SeatKey)>) -> Vec<WeakKeys> {
    let mut demo = Vec::new();
    let mut zero = Vec::new();
    let mut by_key: std::collections::BTreeMap<[u8; 16], Vec<SeatId>> = Default::default();
    for (id, key) in seats {
        if key.0 == [0; 16] {
            zero.push(id);
        } else if key.0 == hemiwatch_protocol::demo_key(id).0 {
            demo.push(id);
        }
        by_key.entry(key.0).or_default().push(id);
    }
    let dups: Vec<Vec<SeatId>> = by_key.into_values().filter(|ids| ids.len() > 1).collect();
    let mut out = Vec::new();
    if !demo.is_empty() {
        out.push(WeakKeys::Demo(demo));
    }
    if !dups.is_empty() {
        out.push(WeakKeys::Duplicate(dups));
    }
    if !zero.is_empty() {
        out.push(WeakKeys::Zero(zero));
    }
    out
}

#[cfg(test)]
mod weak_key_tests {
    use super::*;

    #[test]
    fn demo_duplicated_and_zero_keys_are_found() {
        let demo1 = hemiwatch_protocol::demo_key(1);
        let unique = SeatKey([7; 16]);
        let shared = SeatKey([9; 16]);
        let zero = SeatKey([0; 16]);
        let seats = [(1, &demo1), (2, &unique), (3, &shared), (4, &shared), (5, &zero)];
        assert_eq!(
            audit_keys(seats),
            [
                WeakKeys::Demo(vec![1]),
                WeakKeys::Duplicate(vec![vec![3, 4]]),
                WeakKeys::Zero(vec![5]),
            ]
        );
        assert_eq!(audit_keys([(2, &unique), (3, &shared)]), []);
    }
}
