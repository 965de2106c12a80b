//! `hemiwatch check-config`: a file checked exactly as `run` would read it, and the one-line
//! [`Summary`] printed when it is valid.

use std::path::Path;

use super::{load_and_resolve, ConfigErrors};

/// What `check-config` prints for a valid file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// The file checked.
    pub origin: String,
    /// Lines configured.
    pub lines: usize,
    /// Seats configured (generated and explicit).
    pub seats: usize,
    /// Alert sinks configured.
    pub sinks: usize,
    /// Things that are valid but dangerous (demo keys), as `file:line:col: warning: ...` lines.
    pub warnings: Vec<String>,
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = |count: usize, what: &str| format!("{count} {what}{}", if count == 1 { "" } else { "s" });
        write!(
            f,
            "{}: valid: {}, {}, {}",
            self.origin,
            n(self.lines, "line"),
            n(self.seats, "seat"),
            n(self.sinks, "sink")
        )
    }
}

/// `hemiwatch check-config`: parses and resolves `path` (`None`: the embedded default) exactly as
/// `run` would — key files read, `api_token_env` looked up — and returns every error at once
/// (a missing key file is reported together with, say, an unknown key elsewhere).
pub fn check(path: Option<&Path>) -> Result<Summary, ConfigErrors> {
    let (config, settings) = load_and_resolve(path, false)?;
    Ok(Summary {
        origin: config.origin().to_string(),
        lines: settings.lines.len(),
        seats: settings.seats.len(),
        sinks: settings.sinks.len(),
        warnings: {
            let demo = config.demo_keys_warning();
            let has_demo = demo.is_some();
            let weak = super::audit_keys(
                settings
                    .seats
                    .iter()
                    .filter_map(|s| s.key.as_ref().map(|k| (s.place.id, k))),
            )
            .into_iter()
            // `keys = "demo"` has its own warning, at its position.
            .filter(|w| !has_demo || !matches!(w, super::WeakKeys::Demo(_)))
            .map(|w| {
                format!(
                    "{}: warning: {w}; `run` refuses this without --allow-demo-keys",
                    config.origin()
                )
            });
            demo.into_iter().chain(weak).collect()
        },
    })
}
