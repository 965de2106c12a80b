//! `[[sink]] kind = "exec"`: a `command` (run without a shell) and an optional `timeout`;
//! `args` is refused while the sink cannot pass arguments.

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
        Some(Self {
            command: command.get_ref().clone(),
            timeout,
        })
    }

    /// The runnable sink.
    pub(crate) fn build(self) -> ExecSink {
        ExecSink::new(self.command, self.timeout)
    }
}
