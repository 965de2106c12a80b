//! `hemiwatch check-config`: a configuration file checked exactly as `run` would read it.

use std::path::PathBuf;
use std::process::ExitCode;

use super::config_failed;

/// Arguments of `hemiwatch check-config`.
#[derive(Debug, clap::Args)]
pub struct CheckConfigArgs {
    /// The TOML file; omit to check the embedded default.
    pub file: Option<PathBuf>,
}

/// 0 valid (summary on stdout, warnings on stderr), 2 invalid, 1 unreadable (documented in its
/// `--help`).
pub fn run(args: &CheckConfigArgs) -> ExitCode {
    match crate::config::check(args.file.as_deref()) {
        Ok(summary) => {
            for w in &summary.warnings {
                eprintln!("{w}");
            }
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(errors) => config_failed(&errors),
    }
}
