//! The configuration file (`hemiwatch.toml`): lines, seats, thresholds, storage, HTTP, sinks.
//!
//! Read in three steps, each reporting *every* problem with `file:line:column` and a sentence a
//! technician understands (see [`ConfigErrors`]):
//!
//! 1. [`parse`] / [`load`]: TOML syntax, then the schema — unknown keys are errors (a misspelt
//!    `temprature` must not silently leave the default in force), wrong types are errors — then
//!    the checks that need only the text: duplicate seat ids, undefined lines, tier levels out
//!    of order (warn < critical < emergency, each clear level under its level),
//!    ids outside the protocol's address space, two seats in one place.
//! 2. [`Config::resolve`]: what needs the machine — key files, the API token's environment
//!    variable — and the defaults, giving the daemon's [`Settings`].
//! 3. [`check`]: both, for `hemiwatch check-config`, with one combined list of errors.
//!
//! Thresholds layer `[thresholds]` → `[board.<kind>]` → `[[seat]]`: the board kind comes from the
//! config (`board = "..."` on a seat or in `[hemicycle]`), because thresholds must apply before
//! a seat's first `Hello`. `[hemicycle]` generates the seats of a large room; explicit `[[seat]]`
//! entries then override generated seats (same id) or add seats. A seat's `position` counts along
//! its whole row from the left (1 = leftmost), across sectors; `row` 1 is the innermost. Relative
//! paths (`data_dir`, `storage.path`, `key_file`, `key_dir`) are relative to the folder of the
//! config file.
//!
//! [`Config::embedded_default`] describes the 577-seat hemicycle used by `hemiwatch demo`.
//!
//! One file per section, each holding its table (as serde reads it) and its checks: `daemon`,
//! `storage`, `thresholds`, `lines`, `hemicycle`, `seats` and `placement`, `keys`; each sink
//! kind's entry is checked and built by its own `crate::sink::<kind>::config`. `schema` holds
//! the whole file and the shared value types, `resolve` the walk through the sections, `check`
//! what `check-config` prints, [`defaults`] every default and `limits` the accepted ranges;
//! [`Settings`] is what comes out.

mod check;
mod daemon;
pub mod defaults;
mod error;
mod hemicycle;
mod keys;
mod limits;
mod lines;
mod parse;
mod placement;
mod resolve;
mod schema;
mod seats;
mod settings;
mod storage;
mod thresholds;

use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use check::{check, Summary};
pub use defaults::{
    DEFAULT_BAUD, DEFAULT_CRITICAL_C, DEFAULT_HORIZON, DEFAULT_HTTP_BIND, DEFAULT_PERIOD_MS,
    DEFAULT_SINK_TIMEOUT, DEFAULT_WARN_C,
};
pub use error::{ConfigError, ConfigErrors, Position};
pub use keys::{audit_keys, key_file_name, WeakKeys};
pub use limits::{MAX_PERIOD_MS, MAX_SEAT_ID, MIN_PERIOD_MS, SENSOR_MAX_C, SENSOR_MIN_C};
pub(crate) use schema::HumanDuration;
pub use schema::{Board, LogFormat};
pub use settings::{LineSettings, SeatSettings, Settings, DEFAULT_JITTER_US};

use error::Source;
use keys::KeysPolicy;
use schema::File;

/// The embedded default: a 577-seat hemicycle (sectors A–H, 12 rows, one line per sector, demo
/// keys), so that `hemiwatch demo` needs no file.
pub const EMBEDDED_DEFAULT: &str = include_str!("default.toml");

/// How the embedded default is named in messages.
pub const EMBEDDED_ORIGIN: &str = "<embedded default>";

/// A parsed configuration whose text-level checks passed. Keeps its source text so that the
/// errors of [`Config::resolve`] (a missing key file…) still point at `file:line:column`.
/// `Debug` shows no values: the file may hold seat keys and the API token.
#[derive(Clone)]
pub struct Config {
    source: Arc<Source>,
    base_dir: PathBuf,
    file: File,
    data_dir_override: Option<PathBuf>,
}

/// Reads and parses a config file. `Err` lists every problem; `unreadable` is set when the file
/// could not be read at all.
pub fn load(path: &Path) -> Result<Config, ConfigErrors> {
    let origin = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigErrors::unreadable(&origin, &e))?;
    parse(&text, path)
}

/// Parses config text. `origin` is the file it came from: it names the file in messages, and
/// its folder is where relative paths start.
pub fn parse(text: &str, origin: impl AsRef<Path>) -> Result<Config, ConfigErrors> {
    let origin = origin.as_ref();
    Config::from_source(Source::new(origin.display().to_string(), text), base_of(origin))
}

/// [`load`] then [`Config::resolve`] in one pass, so that text errors and file errors (a missing
/// key file) are reported together: what `hemiwatch run --config FILE` wants.
pub fn load_resolved(path: &Path) -> Result<(Config, Settings), ConfigErrors> {
    load_and_resolve(Some(path), true)
}

fn load_and_resolve(path: Option<&Path>, warn_demo_keys: bool) -> Result<(Config, Settings), ConfigErrors> {
    let (source, base) = match path {
        Some(p) => {
            let origin = p.display().to_string();
            let text = std::fs::read_to_string(p).map_err(|e| ConfigErrors::unreadable(&origin, &e))?;
            (Source::new(origin, text), base_of(p))
        }
        None => (Source::new(EMBEDDED_ORIGIN, EMBEDDED_DEFAULT), PathBuf::from(".")),
    };
    let (file, mut errors) = parse::parse(&source);
    let mut resolver = resolve::Resolver::new(&source, &base, None, true, &process_env);
    if !warn_demo_keys {
        resolver = resolver.quiet_about_demo_keys();
    }
    let settings = match resolver.resolve(&file) {
        Ok(s) if errors.is_empty() => s,
        Ok(_) => return Err(ConfigErrors::invalid(errors)),
        Err(e) => {
            errors.extend(e);
            return Err(ConfigErrors::invalid(errors));
        }
    };
    let config = Config {
        source,
        base_dir: base,
        file,
        data_dir_override: None,
    };
    Ok((config, settings))
}

fn process_env(name: &str) -> Result<String, std::env::VarError> {
    std::env::var(name)
}

/// The folder relative paths start from: the config file's.
fn base_of(origin: &Path) -> PathBuf {
    match origin.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("origin", &self.source.origin)
            .field("base_dir", &self.base_dir)
            .field("lines", &self.file.lines.len())
            .field("seats", &self.file.seats.len())
            .field("hemicycle", &self.file.hemicycle.is_some())
            .field("sinks", &self.file.sinks.len())
            .finish_non_exhaustive()
    }
}

impl Config {
    fn from_source(source: Arc<Source>, base_dir: PathBuf) -> Result<Self, ConfigErrors> {
        let (file, mut errors) = parse::parse(&source);
        // The text-level checks: everything but files and the environment.
        if let Err(e) = resolve::Resolver::new(&source, &base_dir, None, false, &process_env).resolve(&file) {
            errors.extend(e);
        }
        if !errors.is_empty() {
            return Err(ConfigErrors::invalid(errors));
        }
        Ok(Self {
            source,
            base_dir,
            file,
            data_dir_override: None,
        })
    }

    /// The 577-seat hemicycle of [`EMBEDDED_DEFAULT`]; relative paths start in the current
    /// directory.
    pub fn embedded_default() -> Self {
        // The embedded text is part of the program and tested valid (`embedded_default_is_valid`).
        #[allow(clippy::expect_used)]
        Self::from_source(Source::new(EMBEDDED_ORIGIN, EMBEDDED_DEFAULT), PathBuf::from("."))
            .expect("the embedded default configuration is valid")
    }

    /// Builds the daemon's settings: reads key files, looks up `api_token_env`, applies defaults
    /// and the threshold layers. Logs a warning when demo keys are in use.
    pub fn resolve(&self) -> Result<Settings, ConfigErrors> {
        self.resolve_with_env(|name| std::env::var(name).ok())
    }

    /// [`Config::resolve`] with `api_token_env` looked up by `env` instead of the process
    /// environment: for embedders and tests, which must not mutate the process-wide environment
    /// while other threads read it.
    pub fn resolve_with_env(&self, env: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigErrors> {
        let lookup = |name: &str| env(name).ok_or(std::env::VarError::NotPresent);
        let settings = resolve::Resolver::new(
            &self.source,
            &self.base_dir,
            self.data_dir_override.as_deref(),
            true,
            &lookup,
        )
        .resolve(&self.file)
        .map_err(ConfigErrors::invalid)?;
        tracing::debug!(
            origin = %self.source.origin,
            lines = settings.lines.len(),
            seats = settings.seats.len(),
            sinks = settings.sinks.len(),
            "configuration resolved"
        );
        Ok(settings)
    }

    /// The file name (or `<embedded default>`), as in error messages.
    pub fn origin(&self) -> &str {
        &self.source.origin
    }

    /// The folder relative paths start from.
    pub fn base_dir(&self) -> &Path {
        &self.base_dir
    }

    /// Where the daemon keeps its data: `[daemon] data_dir`, else the config's folder, unless
    /// overridden by [`Config::set_data_dir`]. The database defaults to `hemiwatch.sqlite` in it.
    pub fn data_dir(&self) -> PathBuf {
        storage::data_dir(&self.file, &self.base_dir, self.data_dir_override.as_deref())
    }

    /// Overrides the data folder (the demo uses a fresh temporary one); an explicit
    /// `[storage] path` still wins for the database.
    pub fn set_data_dir(&mut self, dir: impl Into<PathBuf>) {
        self.data_dir_override = Some(dir.into());
    }

    /// `[daemon] log_format`, if set (the command line's `--log-format` should win when given).
    pub fn log_format(&self) -> Option<LogFormat> {
        self.file.daemon.log_format
    }

    /// True when `[hemicycle] keys = "demo"`: seat keys derived from a public secret.
    pub fn uses_demo_keys(&self) -> bool {
        self.file
            .hemicycle
            .as_ref()
            .and_then(|h| h.get_ref().keys.as_ref())
            .is_some_and(|k| *k.get_ref() == KeysPolicy::Demo)
    }

    /// The loud warning `check-config` prints for demo keys, pointing at `keys = "demo"`.
    pub fn demo_keys_warning(&self) -> Option<String> {
        let keys = self.file.hemicycle.as_ref()?.get_ref().keys.as_ref()?;
        Some(format!(
            "{}: warning: keys = \"demo\" derives every seat key from a PUBLIC secret: anyone can forge these seats' frames. For demonstrations only, never in a real hemicycle; use key_dir",
            self.source.at(keys.span())
        ))
    }
}

#[cfg(test)]
mod tests;
