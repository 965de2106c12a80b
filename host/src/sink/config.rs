//! `[[sink]]` as the config file writes it, and the dispatch to each kind's own `config.rs`,
//! which checks the entry and builds its runnable sink. The config resolver only places the
//! problems found here in the file (`file:line:column`).
//!
//! One table type for every kind (rather than a tagged enum, which would lose the value
//! positions); which keys a kind needs is checked by the kind.

use std::ops::Range;
use std::time::Duration;

use serde::Deserialize;
use serde_spanned::Spanned;

use super::alertmanager::AlertmanagerConfig;
use super::exec::ExecConfig;
use super::webhook::WebhookConfig;
use super::{NamedSink, Sink};
use crate::config::defaults::DEFAULT_SINK_TIMEOUT;
use crate::config::HumanDuration;

/// `kind` of a `[[sink]]`, and of a running [`Sink`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SinkKind {
    /// JSON POST.
    Webhook,
    /// A local program.
    Exec,
    /// Alertmanager v2 API.
    Alertmanager,
}

impl SinkKind {
    /// The config name (`kind = "webhook"`), also stored with outbox rows and used in metrics.
    pub fn name(self) -> &'static str {
        match self {
            Self::Webhook => "webhook",
            Self::Exec => "exec",
            Self::Alertmanager => "alertmanager",
        }
    }

    /// The kind with its article, for sentences: "a webhook sink", "an exec sink".
    pub(crate) fn with_article(self) -> &'static str {
        match self {
            Self::Webhook => "a webhook",
            Self::Exec => "an exec",
            Self::Alertmanager => "an alertmanager",
        }
    }
}

/// `[[sink]]`: one struct for every kind; see the module docs.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SinkEntry {
    /// Which sink.
    pub kind: Spanned<SinkKind>,
    /// Webhook / Alertmanager URL.
    pub url: Option<Spanned<String>>,
    /// Exec program.
    pub command: Option<Spanned<String>>,
    /// Exec arguments (refused while `ExecSink` cannot pass them).
    pub args: Option<Spanned<Vec<String>>>,
    /// Per-attempt timeout (default [`DEFAULT_SINK_TIMEOUT`]).
    pub timeout: Option<Spanned<HumanDuration>>,
    /// The sink's identity in the outbox ([`NamedSink`]); default: the kind's name.
    pub name: Option<Spanned<String>>,
    /// Exec: the daemon's environment variables the hook may see (it sees nothing else).
    pub env: Option<Spanned<Vec<String>>>,
    /// Keys whose values were invalid (already reported).
    #[serde(skip)]
    pub bad_keys: Vec<String>,
}

/// A problem with a `[[sink]]` entry: the byte span to point at and the sentence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Problem {
    /// Where in the config text.
    pub span: Range<usize>,
    /// What is wrong, for a technician.
    pub message: String,
}

impl SinkEntry {
    /// Checks this entry with its kind's rules and builds the sink; `None` (with the reasons
    /// in `problems`, unless they were already reported) when it cannot be built.
    pub(crate) fn build(&self, problems: &mut Vec<Problem>) -> Option<Sink> {
        let mut check = Check {
            entry: self,
            problems,
        };
        match *self.kind.get_ref() {
            SinkKind::Webhook => WebhookConfig::check(&mut check).map(|c| Sink::Webhook(c.build())),
            SinkKind::Exec => ExecConfig::check(&mut check).map(|c| Sink::Exec(c.build())),
            SinkKind::Alertmanager => {
                AlertmanagerConfig::check(&mut check).map(|c| Sink::Alertmanager(c.build()))
            }
        }
    }
}

/// Longest sink name: it is a metric label and a log field.
const NAME_MAX: usize = 64;

/// Builds every entry and gives each its identity ([`NamedSink`]): its `name`, or its kind's name
/// when it is the first of its kind without one. Names must be unique: a second sink of a kind
/// needs its own, or both would read the same outbox rows. `token_env`, the variable holding the
/// API token, may not be passed to an exec hook.
pub(crate) fn name_sinks(
    entries: &[SinkEntry],
    token_env: Option<&str>,
    problems: &mut Vec<Problem>,
) -> Vec<NamedSink> {
    let mut out: Vec<NamedSink> = Vec::new();
    for e in entries {
        if let (Some(env), Some(token)) = (&e.env, token_env) {
            if env.get_ref().iter().any(|v| v == token) {
                problems.push(Problem {
                    span: env.span(),
                    message: format!(
                        "env names {token}, which holds the API token: an exec hook never gets the token"
                    ),
                });
            }
        }
        let Some(sink) = e.build(problems) else { continue };
        let kind = *e.kind.get_ref();
        let (name, span) = match &e.name {
            Some(n) => {
                let v = n.get_ref();
                let ok = !v.is_empty()
                    && v.len() <= NAME_MAX
                    && v.chars().all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
                if !ok {
                    problems.push(Problem {
                        span: n.span(),
                        message: format!(
                            "sink name \"{v}\" must be 1 to {NAME_MAX} letters, digits, '_', '-' or '.'"
                        ),
                    });
                    continue;
                }
                (v.clone(), n.span())
            }
            None => (kind.name().to_owned(), e.kind.span()),
        };
        if out.iter().any(|s| s.name == name) {
            let message = if e.name.is_some() {
                format!("two sinks are named \"{name}\"; each needs its own name")
            } else {
                format!(
                    "a second {} sink needs name = \"...\": the outbox tells sinks apart by name, and \"{name}\" is taken",
                    kind.name()
                )
            };
            problems.push(Problem { span, message });
            continue;
        }
        out.push(NamedSink::new(name, sink));
    }
    out
}

/// One entry being checked by its kind: the checks every kind shares, and where problems go.
pub(crate) struct Check<'a> {
    /// The entry.
    pub entry: &'a SinkEntry,
    problems: &'a mut Vec<Problem>,
}

impl Check<'_> {
    /// Records a problem at `span`.
    pub(crate) fn err(&mut self, span: Range<usize>, message: impl Into<String>) {
        self.problems.push(Problem {
            span,
            message: message.into(),
        });
    }

    /// "a webhook", "an exec"…: this entry's kind in a sentence.
    pub(crate) fn name(&self) -> &'static str {
        self.entry.kind.get_ref().with_article()
    }

    /// The per-attempt timeout (default [`DEFAULT_SINK_TIMEOUT`]), checked to be 1 ms to 5 min.
    pub(crate) fn timeout(&mut self) -> Duration {
        let timeout = self
            .entry
            .timeout
            .as_ref()
            .map(|t| t.get_ref().0)
            .unwrap_or(DEFAULT_SINK_TIMEOUT);
        if let Some(t) = &self.entry.timeout {
            if timeout.is_zero() || timeout > Duration::from_secs(300) {
                let name = self.name();
                self.err(
                    t.span(),
                    format!("timeout of {name} sink must be between 1ms and 5m"),
                );
            }
        }
        timeout
    }

    /// Reports `key`, written at `span`, as meaningless for this kind.
    pub(crate) fn not_for(&mut self, key: &str, span: Option<Range<usize>>) {
        if let Some(span) = span {
            let name = self.name();
            self.err(span, format!("`{key}` does not apply to {name} sink"));
        }
    }

    /// True if `key`'s value was invalid and already reported: its absence is not news.
    pub(crate) fn was_bad(&self, key: &str) -> bool {
        self.entry.bad_keys.iter().any(|k| k == key)
    }

    /// The `url` of an HTTP sink (webhook, Alertmanager): present, a URL, http or https;
    /// `command` and `args` refused.
    pub(crate) fn http_url(&mut self) -> Option<String> {
        let e = self.entry;
        self.not_for("command", e.command.as_ref().map(|c| c.span()));
        self.not_for("args", e.args.as_ref().map(|c| c.span()));
        self.not_for("env", e.env.as_ref().map(|c| c.span()));
        let name = self.name();
        let Some(url) = &e.url else {
            if !self.was_bad("url") {
                self.err(e.kind.span(), format!("{name} sink needs url = \"http://...\""));
            }
            return None;
        };
        match reqwest::Url::parse(url.get_ref()) {
            Ok(u) if u.scheme() == "http" || u.scheme() == "https" => Some(url.get_ref().clone()),
            Ok(u) => {
                self.err(
                    url.span(),
                    format!(
                        "url of {name} sink must be http:// or https://, not {}://",
                        u.scheme()
                    ),
                );
                None
            }
            Err(err) => {
                self.err(
                    url.span(),
                    format!("url \"{}\" of {name} sink is not a URL: {err}", url.get_ref()),
                );
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde::de::value::{Error, StrDeserializer};

    use super::*;

    #[test]
    fn a_kind_is_read_back_from_its_name() {
        for kind in [SinkKind::Webhook, SinkKind::Exec, SinkKind::Alertmanager] {
            let read = SinkKind::deserialize(StrDeserializer::<Error>::new(kind.name()));
            assert_eq!(read, Ok(kind));
        }
    }
}
