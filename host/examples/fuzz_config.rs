//! A stable-toolchain fuzz driver for the daemon's config readers (issue 12, item 13), in the
//! style of `protocol/examples/fuzz_stable.rs`: seeded TOML-aware mutations of the project's own
//! config files through `config::parse` + `Config::resolve` and, for a sample and every input
//! that is not UTF-8, through `load`, `check` (`check-config`) and `load_resolved`
//! (`run --config`), each under `catch_unwind`. The generator, mutations and oracle are
//! `hemiwatch::testkit::config_fuzz`, which `host/tests/config_fuzz.rs` also runs so the driver
//! never rots; this file adds the command line, a counting allocator (the heap growth of each
//! input, so "never allocates without bound" is measured rather than hoped) and saving findings.
//!
//! `cargo run --release -p hemiwatch --example fuzz_config -- [INPUTS] [SEED] [SECONDS]`
//!
//! Prints a summary table; on any finding prints each distinct one with its (shrunk) input
//! escaped, saves the input under `host/tests/fuzz_regressions/config/` and exits 1.

use std::alloc::{GlobalAlloc, Layout, System};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hemiwatch::testkit::config_fuzz::{self, Fuzzer, Options, Probe};

/// The system allocator, counting live bytes and their peak since the last reset.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

impl Counting {
    fn grew(by: usize) {
        let now = LIVE.fetch_add(by, Ordering::Relaxed) + by;
        PEAK.fetch_max(now, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded to `System` unchanged; only counters are updated around it.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `alloc`'s contract, passed on as is.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            Self::grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as for `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            Self::grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` was allocated by `System` with `layout` (every allocation goes there).
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as for `dealloc`, and the caller upholds `realloc`'s contract.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            Self::grew(new_size);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The heap growth of each input, from the counting allocator.
struct HeapProbe {
    before: usize,
}

impl Probe for HeapProbe {
    fn before(&mut self) {
        self.before = LIVE.load(Ordering::Relaxed);
        PEAK.store(self.before, Ordering::Relaxed);
    }

    fn heap_growth(&mut self) -> Option<usize> {
        Some(PEAK.load(Ordering::Relaxed).saturating_sub(self.before))
    }
}

/// The variable `hemiwatch.example.toml` names in `api_token_env`.
const TOKEN_ENV: &str = "HEMIWATCH_API_TOKEN";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut options = Options::default();
    if let Some(n) = args.next().and_then(|a| a.parse().ok()) {
        options.inputs = n;
    }
    if let Some(seed) = args.next().and_then(|a| a.parse().ok()) {
        options.seed = seed;
    }
    options.time_limit = args.next().and_then(|a| a.parse().ok()).map(Duration::from_secs);
    println!(
        "{} inputs from seed {}{}",
        options.inputs,
        options.seed,
        options
            .time_limit
            .map(|t| format!(", at most {} s", t.as_secs()))
            .unwrap_or_default()
    );
    // The example config takes its API token from this variable (as host/tests/config.rs runs
    // it): set, it is a valid seed. Set before any other thread exists.
    if std::env::var_os(TOKEN_ENV).is_none() {
        std::env::set_var(TOKEN_ENV, "5f1c0d2e9a8b7c6d5e4f3a2b1c0d9e8f");
    }
    let mut fuzzer = match Fuzzer::new(options.seed) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("fuzz_config: cannot read the seeds or make a work folder: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("valid seeds: {}", fuzzer.valid_seeds().join(", "));
    let report = fuzzer.run(&options, &mut HeapProbe { before: 0 });
    print!("{report}");
    if report.kept.is_empty() {
        println!("no finding");
        return ExitCode::SUCCESS;
    }
    let dir = config_fuzz::regressions_dir();
    for kept in &report.kept {
        println!("\nFINDING: {}", kept.finding);
        println!("  from {}", kept.provenance);
        println!(
            "  input ({} bytes): \"{}\"",
            kept.input.len(),
            config_fuzz::escape(&kept.input)
        );
        match config_fuzz::save(kept, &dir) {
            Ok(path) => println!("  saved as {}", path.display()),
            Err(e) => println!("  could not be saved in {}: {e}", dir.display()),
        }
    }
    ExitCode::FAILURE
}
