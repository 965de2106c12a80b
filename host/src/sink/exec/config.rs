//! `[[sink]] kind = "exec"`: a `command` (run without a shell), an optional `timeout`, and
//! `env`, the names of the daemon's environment variables the hook may see (it sees nothing else
//! of the daemon's environment); `args` is refused while the sink cannot pass arguments.

use std::time::Duration;

use super::ExecSink;
use crate::sink::config::Check;

/// An exec sink's settings, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ExecConfig {
    /// The program.
    pub command: String,
    /// Longest run.
    pub timeout: Duration,
    /// Variables passed on from the daemon's environment.
    pub env: Vec<String>,
}

impl ExecConfig {
    /// Checks the entry; `None` when it has problems (recorded in `check`).
    pub(crate) fn check(check: &mut Check<'_>) -> Option<Self> {
        let timeout = check.timeout();
        let e = check.entry;
        check.not_for("url", e.url.as_ref().map(|c| c.span()));
        let Some(command) = &e.command else {
            if !check.was_bad("command") {
                check.err(e.kind.span(), "an exec sink needs command = \"/path/to/program\"");
            }
            return None;
        };
        if command.get_ref().trim().is_empty() {
            check.err(command.span(), "command of an exec sink is empty");
            return None;
        }
        if let Some(args) = &e.args {
            if !args.get_ref().is_empty() {
                // ExecSink runs the program without arguments (it gets the alert in its
                // environment); accepting args silently would drop them.
                check.err(
                    args.span(),
                    "the exec sink does not pass arguments yet: point command at a script that adds them",
                );
                return None;
            }
        }
        let env = e.env.as_ref().map(|v| v.get_ref().clone()).unwrap_or_default();
        if let Some(bad) = env
            .iter()
            .find(|v| v.is_empty() || v.contains('=') || v.contains('\0'))
        {
            let span = e.env.as_ref().map(|v| v.span()).unwrap_or(e.kind.span());
            check.err(
                span,
                format!("env entry \"{bad}\" is not an environment variable name"),
            );
            return None;
        }
        if let Some(bad) = env.iter().find(|v| v.starts_with(super::sink::ALERT_PREFIX)) {
            let span = e.env.as_ref().map(|v| v.span()).unwrap_or(e.kind.span());
            check.err(span, format!("env entry \"{bad}\" is one the alert itself sets"));
            return None;
        }
        Some(Self {
            command: command.get_ref().clone(),
            timeout,
            env,
        })
    }

    /// The runnable sink.
    pub(crate) fn build(self) -> ExecSink {
        ExecSink::new(self.command, self.timeout).passing(self.env)
    }
}
