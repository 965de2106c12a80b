//! `hemiwatch docs`: the man pages and shell completions, generated from this CLI's own clap
//! definitions so they cannot drift from it.
//!
//! The Debian package ships what this writes (`contrib/man/`, `contrib/completions/`, kept in
//! the repository so an installer needs no build); `host/tests/docs.rs` regenerates them and
//! fails when the committed copies are stale.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::CommandFactory;
use clap_complete::Shell;

/// Arguments of `hemiwatch docs`.
#[derive(Debug, clap::Args)]
pub struct DocsArgs {
    /// Folder to write into: `man/` (one page per command, section 1) and `completions/`
    /// (bash, zsh, fish) are created in it.
    #[arg(long)]
    pub out: PathBuf,
}

/// Shells a completion script is written for: the ones Debian packages ship completion
/// folders for.
const SHELLS: [Shell; 3] = [Shell::Bash, Shell::Zsh, Shell::Fish];

/// Writes the man pages and completions under `args.out`.
pub fn run(args: &DocsArgs) -> anyhow::Result<ExitCode> {
    write_all(&args.out)?;
    println!(
        "wrote {}/man and {}/completions",
        args.out.display(),
        args.out.display()
    );
    Ok(ExitCode::SUCCESS)
}

/// Writes `out/man/*.1` and `out/completions/*`.
pub fn write_all(out: &Path) -> anyhow::Result<()> {
    let man = out.join("man");
    std::fs::create_dir_all(&man).with_context(|| format!("cannot create {}", man.display()))?;
    clap_mangen::generate_to(super::Cli::command(), &man)
        .with_context(|| format!("cannot write the man pages into {}", man.display()))?;
    let completions = out.join("completions");
    std::fs::create_dir_all(&completions)
        .with_context(|| format!("cannot create {}", completions.display()))?;
    for shell in SHELLS {
        clap_complete::generate_to(shell, &mut super::Cli::command(), "hemiwatch", &completions)
            .with_context(|| format!("cannot write the {shell} completion"))?;
    }
    Ok(())
}
