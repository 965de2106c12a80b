//! `hemiwatch decode`: raw wire bytes (a capture) to one JSON object per frame.

use std::io::Read;
use std::process::ExitCode;

use anyhow::Context;

/// Arguments of `hemiwatch decode`.
#[derive(Debug, clap::Args)]
pub struct DecodeArgs {
    /// Capture file, or `-` for standard input.
    #[arg(default_value = "-")]
    pub input: String,
}

/// Decodes the capture to stdout and prints the frame and error counts on stderr.
pub fn run(args: &DecodeArgs) -> anyhow::Result<ExitCode> {
    let input = args.input.as_str();
    let reader: Box<dyn Read> = if input == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        Box::new(std::fs::File::open(input).with_context(|| format!("cannot open {input}"))?)
    };
    let summary = match crate::decode::decode_stream(reader, std::io::stdout().lock()) {
        Ok(s) => s,
        // `hemiwatch decode cap.bin | head` closing the pipe is a normal way to stop.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(ExitCode::SUCCESS),
        Err(e) => return Err(e.into()),
    };
    eprintln!("{} frames, {} errors", summary.frames, summary.errors);
    Ok(ExitCode::SUCCESS)
}
