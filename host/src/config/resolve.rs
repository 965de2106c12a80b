//! [`File`] → [`Settings`]: the resolver core. It walks the sections in order — thresholds,
//! lines, `[hemicycle]`, explicit seats, places, keys, sinks, daemon, storage — each checked by
//! its own module (`thresholds`, `lines`, `hemicycle`, `seats`, `keys`, the sinks' own
//! `config.rs`, `daemon`, `storage`), and collects every error. Runs twice: without touching the
//! filesystem or the environment when a file is parsed (so `parse` rejects what is wrong in the
//! text itself), and for real when the daemon's settings are built.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use super::error::{ConfigError, Source};
use super::schema::{Board, File};
use super::settings::Settings;
use super::thresholds::Thresholds;

/// How the resolver reads an environment variable (`std::env::var` unless a test injects one).
pub(crate) type EnvLookup<'a> = &'a dyn Fn(&str) -> Result<String, std::env::VarError>;

/// Resolution state: where relative paths start, whether to read files, and what went wrong.
pub(crate) struct Resolver<'a> {
    pub(super) src: &'a Source,
    pub(super) env: EnvLookup<'a>,
    pub(super) base: &'a Path,
    pub(super) data_dir_override: Option<&'a Path>,
    pub(super) read_files: bool,
    errors: Vec<ConfigError>,
    /// `[hemicycle]` was read but describes no valid room (its errors are reported).
    pub(super) hemicycle_failed: bool,
    /// Log the demo-keys warning (off when the caller prints it itself).
    pub(super) warn_demo_keys: bool,
}

impl<'a> Resolver<'a> {
    pub(crate) fn new(
        src: &'a Source,
        base: &'a Path,
        data_dir_override: Option<&'a Path>,
        read_files: bool,
        env: EnvLookup<'a>,
    ) -> Self {
        Self {
            src,
            env,
            base,
            data_dir_override,
            read_files,
            errors: Vec::new(),
            hemicycle_failed: false,
            warn_demo_keys: true,
        }
    }

    /// Does not log the demo-keys warning (`check-config` prints it in its summary).
    pub(crate) fn quiet_about_demo_keys(mut self) -> Self {
        self.warn_demo_keys = false;
        self
    }

    /// Records an error at `span` of the file.
    pub(super) fn err(&mut self, span: Range<usize>, msg: impl Into<String>) {
        self.errors.push(self.src.error(span, msg));
    }

    /// How many errors so far (a section compares before and after to know if it failed).
    pub(super) fn error_count(&self) -> usize {
        self.errors.len()
    }

    /// Resolves everything; `Err` holds every error found.
    pub(crate) fn resolve(mut self, file: &File) -> Result<Settings, Vec<ConfigError>> {
        self.check_layer(&file.thresholds, &file.thresholds, "");
        let mut boards: BTreeMap<Board, Thresholds> = BTreeMap::new();
        for (board, t) in &file.boards {
            let merged = file.thresholds.overlay(t);
            self.check_layer(&merged, t, &format!(" in [board.{}]", board.get_ref().name()));
            boards.insert(*board.get_ref(), merged);
        }
        let (lines, line_names) = self.lines(file);
        let mut drafts = match &file.hemicycle {
            Some(h) => self.hemicycle(h, file, &line_names),
            None => BTreeMap::new(),
        };
        self.explicit_seats(file, &line_names, &mut drafts);
        self.check_places(&drafts, file);
        let seats = self.finish_seats(file, &boards, drafts);
        let sinks = self.sinks(file);
        let (http_bind, api_token) = self.daemon(file);
        let storage = self.storage(file);
        if !self.errors.is_empty() {
            return Err(self.errors);
        }
        Ok(Settings {
            lines,
            seats,
            http_bind,
            api_token,
            database: storage.database,
            raw_retention: storage.raw_retention,
            rollup_retention: storage.rollup_retention,
            flush_interval: storage.flush_interval,
            sinks,
        })
    }

    /// Each `[[sink]]` checks and builds itself (`crate::sink::SinkEntry::build`); the resolver
    /// only places its problems in the file.
    fn sinks(&mut self, file: &File) -> Vec<crate::sink::NamedSink> {
        let mut problems = Vec::new();
        let token_env = file.daemon.api_token_env.as_ref().map(|e| e.get_ref().as_str());
        let sinks = crate::sink::name_sinks(&file.sinks, token_env, &mut problems);
        for p in problems {
            self.err(p.span, p.message);
        }
        sinks
    }
}

/// `a, b, c`, or `none`: the defined names, in an "is not defined" sentence.
pub(super) fn list_or_none(names: &[String]) -> String {
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}
