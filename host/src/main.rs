//! `hemiwatch` — the command line. Parses arguments and hands over to the library; every
//! subcommand's logic lives in `hemiwatch::cli`.

use clap::Parser;

fn main() -> std::process::ExitCode {
    hemiwatch::cli::main(hemiwatch::cli::Cli::parse())
}
