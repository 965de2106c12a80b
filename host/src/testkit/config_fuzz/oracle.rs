//! What the config fuzzer asserts about one input. The property: for any bytes, reading a config
//! returns `Ok` or an `Err` that names its place — never a panic — and the ways the daemon reads
//! a file agree with each other:
//!
//! * the text path: [`config::parse`], then [`Config::resolve`] when it parses;
//! * the file paths (every input that is not UTF-8, and a sample of the others, since they write
//!   a file): [`config::load`] (what `run` reads its log format with), [`config::check`]
//!   (`hemiwatch check-config`) and [`config::load_resolved`] (`hemiwatch run --config`).
//!
//! Agreement, as far as it honestly holds: `load` gives exactly what `parse` gave on the same
//! text (which also makes the parse deterministic); `check` and `load_resolved` accept or refuse
//! together, with the same errors, and `check`'s counts are `load_resolved`'s; when `parse`
//! accepts, `load_resolved` gives what `parse` + `resolve` gave (the same settings, or the same
//! errors); when `parse` refuses, `load_resolved` refuses too (the file-level checks only add
//! errors — its error list can differ, as a missing `key_dir` stops the seats it would generate
//! from being checked for places). A file that is not UTF-8 is refused by all three as
//! unreadable.
//!
//! "Names its place": an `Err` holds at least one error; each names the file; each error of a
//! readable file has a position inside the text; no message is blank.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::Once;

use crate::config::{self, Config, ConfigErrors, Settings};

/// Which reading of the input a finding is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    /// `config::parse` on the text.
    Parse,
    /// `Config::resolve` of a parsed config.
    Resolve,
    /// `config::load` of the input written to a file.
    Load,
    /// `config::check` (`hemiwatch check-config`) of that file.
    Check,
    /// `config::load_resolved` (`hemiwatch run --config`) of that file.
    LoadResolved,
}

impl Step {
    /// The function, as a finding names it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Parse => "config::parse",
            Self::Resolve => "Config::resolve",
            Self::Load => "config::load",
            Self::Check => "config::check",
            Self::LoadResolved => "config::load_resolved",
        }
    }
}

/// What reading the input ended with (the text path; the file path for bytes that are not UTF-8).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Outcome {
    /// Parsed and resolved: the daemon would run on it.
    Valid,
    /// Refused with errors; the class of the first one.
    Invalid(ErrorClass),
    /// Refused as unreadable (not UTF-8).
    Unreadable,
}

/// The kind of a config error, for the summary table only: the config reports errors as
/// sentences without a kind, so the class is read from the wording of the sentence and nothing
/// is decided on it (a reworded message moves to [`ErrorClass::Other`], no test fails).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ErrorClass {
    /// Not TOML (including the parser's nesting limit).
    Syntax,
    /// An unknown key, section or board kind.
    Unknown,
    /// A value of the wrong type, a table that is not one.
    WrongType,
    /// A value outside its accepted range or not in its accepted form.
    Range,
    /// Something required missing.
    Missing,
    /// A seat, line, sector or sink defined twice, or two seats in one place.
    Duplicate,
    /// A reference to a line or sector that is not defined.
    Undefined,
    /// What needs the machine: key files, the token's environment variable.
    Machine,
    /// Any other sentence.
    Other,
}

impl ErrorClass {
    /// Every class, in the order the report lists them.
    pub const ALL: [ErrorClass; 9] = [
        ErrorClass::Syntax,
        ErrorClass::Unknown,
        ErrorClass::WrongType,
        ErrorClass::Range,
        ErrorClass::Missing,
        ErrorClass::Duplicate,
        ErrorClass::Undefined,
        ErrorClass::Machine,
        ErrorClass::Other,
    ];

    /// The name in the report.
    pub fn name(self) -> &'static str {
        match self {
            Self::Syntax => "syntax",
            Self::Unknown => "unknown key/section",
            Self::WrongType => "wrong type",
            Self::Range => "out of range/form",
            Self::Missing => "missing",
            Self::Duplicate => "duplicate",
            Self::Undefined => "undefined reference",
            Self::Machine => "key file/environment",
            Self::Other => "other",
        }
    }

    /// Its index in [`ErrorClass::ALL`], for counting.
    pub fn index(self) -> usize {
        Self::ALL.iter().position(|c| *c == self).unwrap_or(0)
    }

    /// The class of a message (see the type's docs: wording, for the report).
    pub fn of(message: &str) -> Self {
        let has = |words: &[&str]| words.iter().any(|w| message.contains(w));
        if message.starts_with("TOML syntax error") {
            Self::Syntax
        } else if has(&["unknown key", "unknown section", "unknown board kind"]) {
            Self::Unknown
        } else if has(&["wrong type", "must be a table", "must be a list"]) {
            Self::WrongType
        } else if has(&[
            "does not exist",
            "environment variable",
            "key file",
            "cannot be read",
        ]) {
            Self::Machine
        } else if has(&[
            "twice",
            "already sits",
            "two sinks",
            "a second",
            "not both",
            "keep one",
        ]) {
            Self::Duplicate
        } else if has(&["is not defined", "is not one of"]) {
            Self::Undefined
        } else if has(&["missing the required", " needs ", "has no key", "is empty"]) {
            Self::Missing
        } else if has(&[
            "out of range",
            "outside",
            "must be",
            "is not a",
            "cannot be",
            "too short",
            "hex digits",
        ]) {
            Self::Range
        } else {
            Self::Other
        }
    }
}

/// A violation of the property (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Finding {
    /// A reading panicked.
    Panic {
        /// Which reading.
        step: Step,
        /// `file:line:column` of the panic.
        location: String,
        /// The panic message.
        message: String,
    },
    /// An `Err` that does not name its place (see the module docs).
    Unclear {
        /// Which reading.
        step: Step,
        /// What is missing.
        why: String,
    },
    /// Two readings of the same input disagree.
    Disagree(String),
    /// One input took longer than the run's limit (a hang, as far as a fuzzer can tell).
    Slow {
        /// How long, ms.
        ms: u128,
    },
    /// One input made the heap grow past the run's limit (measured by the example's allocator).
    Heap {
        /// Peak bytes above what was live before the input.
        bytes: usize,
    },
    /// The fuzzer itself failed (it could not write the input to its work folder): not a bug of
    /// the config readers, but the input was not fully judged.
    Harness(String),
}

impl Finding {
    /// What findings are told apart by, so that a run keeps one input per bug rather than
    /// thousands: the panic's place, or the kind of violation and its step.
    pub fn signature(&self) -> String {
        match self {
            Self::Panic { step, location, .. } => format!("panic in {} at {location}", step.name()),
            Self::Unclear { step, why } => {
                format!(
                    "unclear error from {}: {}",
                    step.name(),
                    why.split(':').next().unwrap_or(why)
                )
            }
            Self::Disagree(what) => format!("disagreement: {}", what.split(':').next().unwrap_or(what)),
            Self::Slow { .. } => "slow input".into(),
            Self::Heap { .. } => "heap growth".into(),
            Self::Harness(_) => "fuzz harness failure".into(),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Panic {
                step,
                location,
                message,
            } => write!(f, "{} panicked at {location}: {message}", step.name()),
            Self::Unclear { step, why } => write!(f, "{} returned an unclear error: {why}", step.name()),
            Self::Disagree(what) => write!(f, "readings disagree: {what}"),
            Self::Slow { ms } => write!(f, "one input took {ms} ms"),
            Self::Heap { bytes } => write!(f, "one input grew the heap by {bytes} bytes"),
            Self::Harness(why) => write!(f, "the fuzzer failed: {why}"),
        }
    }
}

/// What the oracle found about one input.
#[derive(Clone, Debug, Default)]
pub struct Verdict {
    /// How reading ended (`None` when the text path panicked).
    pub outcome: Option<Outcome>,
    /// Every violation found.
    pub findings: Vec<Finding>,
    /// Whether the file paths were exercised too.
    pub through_file: bool,
}

thread_local! {
    /// Set while a guarded reading runs on this thread: its panics are recorded, not printed.
    static GUARDED: Cell<bool> = const { Cell::new(false) };
    /// The last recorded panic on this thread: location and message.
    static LAST_PANIC: RefCell<Option<(String, String)>> = const { RefCell::new(None) };
}

/// Installs, once per process, a panic hook that records the panics of guarded readings and
/// hands every other panic to the hook it replaced (a test failing elsewhere in the same test
/// binary still prints its message).
fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if GUARDED.with(Cell::get) {
                let location = info
                    .location()
                    .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()))
                    .unwrap_or_else(|| "<unknown>".into());
                let payload = info.payload();
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "<non-string panic payload>".into());
                LAST_PANIC.with(|p| *p.borrow_mut() = Some((location, message)));
            } else {
                previous(info);
            }
        }));
    });
}

/// Runs one reading; a panic becomes a [`Finding::Panic`].
fn guarded<T>(step: Step, f: impl FnOnce() -> T) -> Result<T, Finding> {
    install_hook();
    GUARDED.with(|g| g.set(true));
    let result = panic::catch_unwind(AssertUnwindSafe(f));
    GUARDED.with(|g| g.set(false));
    result.map_err(|_| {
        let (location, message) = LAST_PANIC
            .with(|p| p.borrow_mut().take())
            .unwrap_or_else(|| ("<unknown>".into(), "<no message>".into()));
        Finding::Panic {
            step,
            location,
            message,
        }
    })
}

/// Whether `errors` names its place (module docs); `text_len` is `None` for an unreadable file.
fn unclear(step: Step, errors: &ConfigErrors, origin: &str, text_len: Option<usize>) -> Option<Finding> {
    let why = |why: String| Some(Finding::Unclear { step, why });
    if errors.is_empty() {
        return why("an Err without any error".into());
    }
    if errors.unreadable != text_len.is_none() {
        return why(format!(
            "unreadable is {} for a file that is{} UTF-8",
            errors.unreadable,
            if text_len.is_some() { "" } else { " not" }
        ));
    }
    for e in &errors.errors {
        if e.origin != origin {
            return why(format!("names the file {:?}, not {origin:?}", e.origin));
        }
        if e.message.trim().is_empty() {
            return why(format!("a blank message: {e}"));
        }
        match (e.position, text_len) {
            (None, None) => {}
            (Some(p), Some(len)) if p.offset <= len && p.line >= 1 && p.column >= 1 => {}
            (p, _) => return why(format!("position {p:?} for a text of {text_len:?} bytes: {e}")),
        }
    }
    None
}

/// Everything `run` would use of resolved settings, as one comparable string (`Settings` has
/// no `PartialEq`; `SeatKey`'s `Debug` hides the key, so the key bytes are added).
fn fingerprint(s: &Settings) -> String {
    let keys: Vec<Option<[u8; 16]>> = s.seats.iter().map(|x| x.key.as_ref().map(|k| k.0)).collect();
    let sinks: Vec<(&str, crate::sink::SinkKind)> =
        s.sinks.iter().map(|n| (n.name.as_str(), n.sink.kind())).collect();
    format!(
        "{:?} {:?} {keys:?} {} {:?} {:?} {:?} {:?} {:?} {sinks:?}",
        s.lines,
        s.seats,
        s.http_bind,
        s.api_token,
        s.database,
        s.raw_retention,
        s.rollup_retention,
        s.flush_interval
    )
}

/// The text path's results, kept to compare the file paths with.
struct TextPath {
    /// `parse`: accepted, or its errors.
    parsed: Result<(), ConfigErrors>,
    /// `resolve` of what parsed (its settings' fingerprint, or its errors).
    resolved: Option<Result<String, ConfigErrors>>,
}

/// Judges inputs read as the file `origin` (in a folder holding the seeds' key files).
#[derive(Clone, Debug)]
pub struct Oracle {
    origin: PathBuf,
    name: String,
}

impl Oracle {
    /// An oracle whose inputs are read as `origin` (relative paths start in its folder; the file
    /// paths write the input there).
    pub fn new(origin: impl Into<PathBuf>) -> Self {
        let origin = origin.into();
        let name = origin.display().to_string();
        Self { origin, name }
    }

    /// The file inputs are read as.
    pub fn origin(&self) -> &Path {
        &self.origin
    }

    /// Judges `input`; `through_file` adds the file paths (always taken for bytes that are not
    /// UTF-8, which only a file can hold).
    pub fn judge(&self, input: &[u8], through_file: bool) -> Verdict {
        let mut v = Verdict::default();
        let utf8 = std::str::from_utf8(input);
        let through_file = through_file || utf8.is_err();
        let text = utf8.ok().map(|text| self.text_path(text, through_file, &mut v));
        if through_file {
            v.through_file = true;
            match std::fs::write(&self.origin, input) {
                Ok(()) => self.file_paths(input, text.flatten().as_ref(), &mut v),
                Err(e) => v
                    .findings
                    .push(Finding::Harness(format!("cannot write {}: {e}", self.name))),
            }
        }
        v
    }

    /// `parse`, then `resolve` if it parsed; `None` if a panic left nothing to compare. The
    /// settings' fingerprint is only taken when the file paths will be compared with it.
    fn text_path(&self, text: &str, compared: bool, v: &mut Verdict) -> Option<TextPath> {
        let len = Some(text.len());
        let parsed = match guarded(Step::Parse, || config::parse(text, &self.origin)) {
            Ok(p) => p,
            Err(f) => {
                v.findings.push(f);
                return None;
            }
        };
        let config: Config = match parsed {
            Ok(c) => c,
            Err(e) => {
                v.findings.extend(unclear(Step::Parse, &e, &self.name, len));
                v.outcome = Some(Outcome::Invalid(class(&e)));
                return Some(TextPath {
                    parsed: Err(e),
                    resolved: None,
                });
            }
        };
        let resolved = match guarded(Step::Resolve, || config.resolve()) {
            Ok(Ok(s)) => {
                v.outcome = Some(Outcome::Valid);
                Ok(if compared { fingerprint(&s) } else { String::new() })
            }
            Ok(Err(e)) => {
                v.findings.extend(unclear(Step::Resolve, &e, &self.name, len));
                v.outcome = Some(Outcome::Invalid(class(&e)));
                Err(e)
            }
            Err(f) => {
                v.findings.push(f);
                return Some(TextPath {
                    parsed: Ok(()),
                    resolved: None,
                });
            }
        };
        Some(TextPath {
            parsed: Ok(()),
            resolved: Some(resolved),
        })
    }

    /// `load`, `check` and `load_resolved` of the file just written, compared with each other and
    /// with the text path (`text`: `None` for bytes that are not UTF-8, or after a panic there).
    fn file_paths(&self, input: &[u8], text: Option<&TextPath>, v: &mut Verdict) {
        let len = std::str::from_utf8(input).is_ok().then_some(input.len());
        let path = self.origin.as_path();
        let loaded = guarded(Step::Load, || config::load(path).map(|_| ()));
        let checked = guarded(Step::Check, || config::check(Some(path)));
        let resolved = guarded(Step::LoadResolved, || {
            config::load_resolved(path).map(|(_, s)| Resolved {
                fingerprint: fingerprint(&s),
                counts: (s.lines.len(), s.seats.len(), s.sinks.len()),
            })
        });
        let (loaded, checked, resolved) = match (loaded, checked, resolved) {
            (Ok(l), Ok(c), Ok(r)) => (l, c, r),
            (l, c, r) => {
                v.findings
                    .extend([l.err(), c.err(), r.err()].into_iter().flatten());
                return;
            }
        };
        let found = &mut v.findings;
        for (step, errors) in [
            (Step::Load, loaded.as_ref().err()),
            (Step::Check, checked.as_ref().err()),
            (Step::LoadResolved, resolved.as_ref().err()),
        ] {
            if let Some(e) = errors {
                found.extend(unclear(step, e, &self.name, len));
            }
        }
        match (&checked, &resolved) {
            (Ok(s), Ok(r)) if (s.lines, s.seats, s.sinks) == r.counts => {}
            (Err(a), Err(b)) if a == b => {}
            (c, r) => found.push(Finding::Disagree(format!(
                "check and load_resolved: check gave {}, load_resolved gave {}",
                brief(c),
                brief(r)
            ))),
        }
        let Some(text) = text else {
            if len.is_none() {
                if !loaded.as_ref().is_err_and(|e| e.unreadable) {
                    found.push(Finding::Disagree(format!(
                        "bytes that are not UTF-8: load gave {}, not unreadable",
                        brief(&loaded)
                    )));
                }
                v.outcome.get_or_insert(Outcome::Unreadable);
            }
            return;
        };
        if loaded != text.parsed {
            found.push(Finding::Disagree(format!(
                "load and parse: load gave {}, parse gave {}",
                brief(&loaded),
                brief(&text.parsed)
            )));
        }
        let resolved = resolved.map(|r| r.fingerprint);
        match (&text.parsed, &text.resolved) {
            (Err(_), _) if resolved.is_ok() => found.push(Finding::Disagree(
                "load_resolved and parse: load_resolved accepted what parse refused".into(),
            )),
            (Ok(()), Some(r)) if *r != resolved => found.push(Finding::Disagree(format!(
                "load_resolved and parse + resolve: load_resolved gave {}, parse + resolve gave {}",
                brief(&resolved),
                brief(r)
            ))),
            _ => {}
        }
    }
}

/// What `load_resolved` gave, to compare with `check` and with the text path.
struct Resolved {
    /// See [`fingerprint`].
    fingerprint: String,
    /// Lines, seats, sinks: what `check` counts.
    counts: (usize, usize, usize),
}

/// The class of the first error.
fn class(errors: &ConfigErrors) -> ErrorClass {
    errors
        .errors
        .first()
        .map(|e| ErrorClass::of(&e.message))
        .unwrap_or(ErrorClass::Other)
}

/// "Ok", or the count and first error, for a disagreement's sentence.
fn brief<T>(r: &Result<T, ConfigErrors>) -> String {
    match r {
        Ok(_) => "Ok".into(),
        Err(e) => format!(
            "{} error(s), first: {}",
            e.len(),
            e.errors.first().map(|e| e.to_string()).unwrap_or_default()
        ),
    }
}
