//! `[storage]`: where the SQLite file lives (default: in the data folder) and how long samples
//! and rollups are kept; how often buffered samples are committed, which is the window of
//! samples a crash can lose.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_spanned::Spanned;

use super::defaults::{
    DEFAULT_DATABASE_FILE, DEFAULT_FLUSH_INTERVAL, DEFAULT_RAW_RETENTION, DEFAULT_ROLLUP_RETENTION,
};
use super::resolve::Resolver;
use super::schema::{File, HumanDuration};

/// `[storage]`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct StorageSection {
    /// SQLite file (default `<data_dir>/hemiwatch.sqlite`).
    pub path: Option<Spanned<PathBuf>>,
    /// How long raw samples are kept.
    pub raw_retention: Option<Spanned<HumanDuration>>,
    /// How long 1-minute rollups are kept.
    pub rollup_retention: Option<Spanned<HumanDuration>>,
    /// Longest time a sample waits before commit: the crash loss window.
    pub flush_interval: Option<Spanned<HumanDuration>>,
}

/// The storage part of the settings, resolved.
pub(super) struct StoragePlan {
    /// SQLite file.
    pub database: PathBuf,
    /// How long raw samples are kept.
    pub raw_retention: Duration,
    /// How long 1-minute rollups are kept.
    pub rollup_retention: Duration,
    /// Longest time a sample waits before commit.
    pub flush_interval: Duration,
}

impl Resolver<'_> {
    /// The database path and the retention and flush durations, defaults applied and checked.
    pub(super) fn storage(&mut self, file: &File) -> StoragePlan {
        let s = &file.storage;
        let data_dir = data_dir(file, self.base, self.data_dir_override);
        let database = match &s.path {
            Some(p) => self.base.join(p.get_ref()),
            None => data_dir.join(DEFAULT_DATABASE_FILE),
        };
        let get = |v: &Option<Spanned<HumanDuration>>, d| v.as_ref().map(|v| v.get_ref().0).unwrap_or(d);
        let raw = get(&s.raw_retention, DEFAULT_RAW_RETENTION);
        let rollup = get(&s.rollup_retention, DEFAULT_ROLLUP_RETENTION);
        let flush = get(&s.flush_interval, DEFAULT_FLUSH_INTERVAL);
        if let Some(v) = &s.raw_retention {
            if raw < Duration::from_secs(60) {
                self.err(
                    v.span(),
                    "raw_retention must be at least 1m (rollups are per minute)",
                );
            }
        }
        if let Some(v) = s.rollup_retention.as_ref().or(s.raw_retention.as_ref()) {
            if rollup < raw {
                self.err(
                    v.span(),
                    format!(
                        "rollup_retention {} must not be shorter than raw_retention {}: rollups keep what raw samples no longer do",
                        humantime::format_duration(rollup),
                        humantime::format_duration(raw)
                    ),
                );
            }
        }
        if let Some(v) = &s.flush_interval {
            if flush < Duration::from_millis(10) || flush > Duration::from_secs(60) {
                self.err(
                    v.span(),
                    "flush_interval must be between 10ms and 60s: it is the window of samples a crash can lose",
                );
            }
        }
        StoragePlan {
            database,
            raw_retention: raw,
            rollup_retention: rollup,
            flush_interval: flush,
        }
    }
}

/// Where the data lives: the override (the demo's folder), `[daemon] data_dir` relative to the
/// config's folder, or the config's folder itself.
pub(crate) fn data_dir(file: &File, base: &Path, over: Option<&Path>) -> PathBuf {
    if let Some(o) = over {
        return o.to_path_buf();
    }
    match &file.daemon.data_dir {
        Some(d) => base.join(d.get_ref()),
        None => base.to_path_buf(),
    }
}
