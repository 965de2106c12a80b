//! # The config fuzzer (issue 12, item 13) — the core `host/examples/fuzz_config.rs` drives
//!
//! The daemon's config file is the one input of the host written by a person rather than a
//! program, and `hemiwatch check-config` promises every mistake an `Err` that names its place.
//! This fuzzer holds the config readers to that for inputs nobody would write: seeded, TOML-aware
//! mutations of the project's own config files ([`mutate`], seeds from [`corpus`]) run through
//! every reader under `catch_unwind`, with the agreements between readers that honestly hold
//! checked on the way ([`oracle`]). A panic, an unclear error, a disagreement, a slow input or
//! (with the example's counting allocator) a heap blow-up is a finding; one input per finding is
//! kept, shrunk, for `host/tests/fuzz_regressions/config/`.
//!
//! It lives in the test kit rather than in the example so that a test runs it on every CI run
//! (`host/tests/config_fuzz.rs`) and the driver never rots. It runs on one thread: the machines
//! it runs on are shared.

pub mod corpus;
pub mod mutate;
pub mod oracle;

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub use corpus::{Seed, Workdir};
pub use mutate::{Mutation, Rng};
pub use oracle::{ErrorClass, Finding, Oracle, Outcome, Step, Verdict};

/// The default seed, as in the protocol's fuzz driver.
pub const DEFAULT_SEED: u64 = 0x9E37_79B9_7F4A_7C15;

/// How long a run goes and what counts as a finding beyond panics and wrong answers.
#[derive(Clone, Debug)]
pub struct Options {
    /// Inputs to run.
    pub inputs: u64,
    /// Generator seed: the same seed replays the same inputs.
    pub seed: u64,
    /// Stop early after this long (the count run is reported).
    pub time_limit: Option<Duration>,
    /// One input in this many also goes through the file paths (they write a file; inputs that
    /// are not UTF-8 always do).
    pub file_every: u64,
    /// An input taking longer than this is a finding (a hang, as far as a fuzzer can tell).
    pub slow_limit: Duration,
    /// An input growing the heap by more than this is a finding (only with a [`Probe`] that
    /// measures it).
    pub heap_limit: usize,
}

impl Default for Options {
    /// A million inputs, one in 16 through the file paths; 2 s and 256 MiB per input are
    /// findings (the largest seed takes well under a millisecond and a few MiB).
    fn default() -> Self {
        Self {
            inputs: 1_000_000,
            seed: DEFAULT_SEED,
            time_limit: None,
            file_every: 16,
            slow_limit: Duration::from_secs(2),
            heap_limit: 256 << 20,
        }
    }
}

/// What a driver measures around each input beyond time: the example's counting allocator.
pub trait Probe {
    /// Called right before an input is judged.
    fn before(&mut self) {}
    /// Peak heap growth, bytes, since [`Probe::before`]; `None` when not measured.
    fn heap_growth(&mut self) -> Option<usize> {
        None
    }
}

/// Measures nothing beyond time.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProbe;

impl Probe for NoProbe {}

/// One generated input and how it was made.
#[derive(Clone, Debug)]
pub struct Input {
    /// Its index in the run (the seed and the index replay it).
    pub index: u64,
    /// The seed it was mutated from (index into the seeds).
    pub seed: usize,
    /// The mutations applied, in order (empty: the seed itself).
    pub mutations: Vec<Mutation>,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// A finding kept with its input (the first input of each [`Finding::signature`], shrunk).
#[derive(Clone, Debug)]
pub struct Kept {
    /// What was found.
    pub finding: Finding,
    /// The input, shrunk while it still shows the same signature.
    pub input: Vec<u8>,
    /// The input's index, seed name and mutations, to replay it.
    pub provenance: String,
}

/// The outcome of a run: counts, timing, findings.
#[derive(Clone, Debug, Default)]
pub struct Report {
    /// Generator seed.
    pub seed: u64,
    /// Seeds in the corpus.
    pub seeds: usize,
    /// Inputs judged.
    pub inputs: u64,
    /// Accepted and resolved.
    pub valid: u64,
    /// Refused, by the class of the first error ([`ErrorClass::ALL`] order).
    pub invalid: [u64; ErrorClass::ALL.len()],
    /// Refused as unreadable (not UTF-8).
    pub unreadable: u64,
    /// Inputs that also went through the file paths.
    pub through_file: u64,
    /// Findings, counting repeats.
    pub findings: u64,
    /// Panics, counting repeats.
    pub panics: u64,
    /// One finding per signature, with its input.
    pub kept: Vec<Kept>,
    /// Wall time.
    pub elapsed: Duration,
    /// Slowest input: time and index.
    pub slowest: (Duration, u64),
    /// Largest input, bytes.
    pub largest_input: usize,
    /// Largest heap growth of one input, bytes, if measured.
    pub peak_heap: Option<usize>,
    /// Times each mutation was applied ([`Mutation::ALL`] order).
    pub mutations: [u64; Mutation::ALL.len()],
}

impl Report {
    /// Inputs per second.
    pub fn rate(&self) -> f64 {
        self.inputs as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Refused inputs, every class.
    pub fn invalid_total(&self) -> u64 {
        self.invalid.iter().sum()
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let share = |n: u64| 100.0 * n as f64 / self.inputs.max(1) as f64;
        writeln!(f, "seed {}, {} seed files", self.seed, self.seeds)?;
        writeln!(f, "| figure | count | share |")?;
        writeln!(f, "|---|---:|---:|")?;
        writeln!(f, "| inputs | {} | |", self.inputs)?;
        writeln!(
            f,
            "| valid (parsed and resolved) | {} | {:.1} % |",
            self.valid,
            share(self.valid)
        )?;
        let invalid = self.invalid_total();
        writeln!(f, "| invalid | {invalid} | {:.1} % |", share(invalid))?;
        for (class, n) in ErrorClass::ALL.iter().zip(self.invalid) {
            writeln!(f, "| · first error: {} | {n} | {:.1} % |", class.name(), share(n))?;
        }
        writeln!(
            f,
            "| unreadable (not UTF-8) | {} | {:.1} % |",
            self.unreadable,
            share(self.unreadable)
        )?;
        writeln!(
            f,
            "| also through load/check/load_resolved | {} | {:.1} % |",
            self.through_file,
            share(self.through_file)
        )?;
        writeln!(f, "| panics | {} | |", self.panics)?;
        writeln!(f, "| findings (all kinds) | {} | |", self.findings)?;
        writeln!(f, "| distinct findings kept | {} | |", self.kept.len())?;
        writeln!(f, "| elapsed | {:.1} s | |", self.elapsed.as_secs_f64())?;
        writeln!(f, "| inputs/s | {:.0} | |", self.rate())?;
        writeln!(
            f,
            "| slowest input | {:.1} ms (#{}) | |",
            self.slowest.0.as_secs_f64() * 1e3,
            self.slowest.1
        )?;
        writeln!(f, "| largest input | {} B | |", self.largest_input)?;
        if let Some(peak) = self.peak_heap {
            writeln!(
                f,
                "| largest heap growth of one input | {:.1} MiB | |",
                peak as f64 / 1048576.0
            )?;
        }
        write!(f, "mutations applied:")?;
        for (m, n) in Mutation::ALL.iter().zip(self.mutations) {
            write!(f, " {} {n};", m.name())?;
        }
        writeln!(f)
    }
}

/// The fuzzer: seeds, a generator, and the oracle reading inputs in a work folder.
#[derive(Debug)]
pub struct Fuzzer {
    seeds: Vec<Seed>,
    /// The seeds that parse and resolve here: mutated half of the time, since a mutation of a
    /// valid file reaches the checks behind the parser more often than one of a broken file.
    valid: Vec<usize>,
    rng: Rng,
    oracle: Oracle,
    next: u64,
    _work: Workdir,
}

impl Fuzzer {
    /// A fuzzer over the repository's seeds ([`corpus::seeds`]) from generator seed `seed`.
    pub fn new(seed: u64) -> io::Result<Self> {
        let work = Workdir::new()?;
        let seeds = corpus::seeds()?;
        let oracle = Oracle::new(work.origin());
        let valid = (0..seeds.len())
            .filter(|&i| oracle.judge(&seeds[i].text, false).outcome == Some(Outcome::Valid))
            .collect();
        Ok(Self {
            seeds,
            valid,
            rng: Rng::new(seed),
            oracle,
            next: 0,
            _work: work,
        })
    }

    /// The seeds.
    pub fn seeds(&self) -> &[Seed] {
        &self.seeds
    }

    /// The names of the seeds that parse and resolve here (with the process's environment).
    pub fn valid_seeds(&self) -> Vec<&str> {
        self.valid.iter().map(|&i| self.seeds[i].name.as_str()).collect()
    }

    /// The oracle, to judge a given input (a kept regression) as the run does.
    pub fn oracle(&self) -> &Oracle {
        &self.oracle
    }

    /// The next input: a seed (a valid one half of the time) with 1 to 4 mutations stacked (one
    /// in 20 gets 8 to 15, one in 64 is the seed itself), at most [`mutate::MAX_INPUT`] bytes.
    pub fn next_input(&mut self) -> Input {
        let rng = &mut self.rng;
        let seed = if !self.valid.is_empty() && rng.one_in(2) {
            *rng.pick(&self.valid)
        } else {
            rng.below(self.seeds.len())
        };
        let mut bytes = self.seeds[seed].text.clone();
        let count = if rng.one_in(64) {
            0
        } else if rng.one_in(20) {
            8 + rng.below(8)
        } else {
            1 + rng.below(4)
        };
        let mut mutations = Vec::with_capacity(count);
        for _ in 0..count {
            let m = mutate::choose(rng);
            let other = &self.seeds[rng.below(self.seeds.len())].text;
            mutate::apply(rng, m, &mut bytes, other);
            bytes.truncate(mutate::MAX_INPUT);
            mutations.push(m);
        }
        let index = self.next;
        self.next += 1;
        Input {
            index,
            seed,
            mutations,
            bytes,
        }
    }

    /// Runs `options.inputs` inputs (or until the time limit), `probe` around each.
    pub fn run(&mut self, options: &Options, probe: &mut dyn Probe) -> Report {
        let mut report = Report {
            seed: options.seed,
            seeds: self.seeds.len(),
            ..Report::default()
        };
        let started = Instant::now();
        for i in 0..options.inputs {
            if i % 1024 == 0 && options.time_limit.is_some_and(|limit| started.elapsed() >= limit) {
                break;
            }
            let input = self.next_input();
            for m in &input.mutations {
                report.mutations[m.index()] += 1;
            }
            report.largest_input = report.largest_input.max(input.bytes.len());
            let through_file = options.file_every > 0 && i % options.file_every == 0;
            probe.before();
            let t = Instant::now();
            let mut verdict = self.oracle.judge(&input.bytes, through_file);
            let took = t.elapsed();
            let heap = probe.heap_growth();
            if took > report.slowest.0 {
                report.slowest = (took, input.index);
            }
            if took > options.slow_limit {
                verdict.findings.push(Finding::Slow { ms: took.as_millis() });
            }
            if let Some(h) = heap {
                report.peak_heap = Some(report.peak_heap.unwrap_or(0).max(h));
                if h > options.heap_limit {
                    verdict.findings.push(Finding::Heap { bytes: h });
                }
            }
            report.inputs += 1;
            report.through_file += u64::from(verdict.through_file);
            match verdict.outcome {
                Some(Outcome::Valid) => report.valid += 1,
                Some(Outcome::Invalid(class)) => report.invalid[class.index()] += 1,
                Some(Outcome::Unreadable) => report.unreadable += 1,
                None => {}
            }
            for finding in verdict.findings {
                report.findings += 1;
                report.panics += u64::from(matches!(finding, Finding::Panic { .. }));
                let signature = finding.signature();
                if report.kept.iter().any(|k| k.finding.signature() == signature) {
                    continue;
                }
                let shrunk = match finding {
                    // Time and heap depend on the machine: keep the input as found.
                    Finding::Slow { .. } | Finding::Heap { .. } | Finding::Harness(_) => input.bytes.clone(),
                    _ => self.shrink(&input.bytes, &signature, through_file),
                };
                report.kept.push(Kept {
                    finding,
                    input: shrunk,
                    provenance: format!(
                        "input #{} of seed {}: {} with {}",
                        input.index,
                        options.seed,
                        self.seeds[input.seed].name,
                        if input.mutations.is_empty() {
                            "no mutation".to_string()
                        } else {
                            input
                                .mutations
                                .iter()
                                .map(|m| m.name())
                                .collect::<Vec<_>>()
                                .join(", ")
                        }
                    ),
                });
            }
        }
        report.elapsed = started.elapsed();
        report
    }

    /// A smaller input that still shows a finding of `signature`: chunks of half the input, then
    /// of ever smaller sizes down to single bytes, dropped while the finding stays (bounded: a
    /// few thousand tries).
    fn shrink(&self, input: &[u8], signature: &str, through_file: bool) -> Vec<u8> {
        let shows = |candidate: &[u8]| {
            self.oracle
                .judge(candidate, through_file)
                .findings
                .iter()
                .any(|f| f.signature() == signature)
        };
        let mut best = input.to_vec();
        let mut tries = 0;
        let mut chunk = best.len().div_ceil(2).max(1);
        while chunk >= 1 && tries < 4_000 {
            let mut at = 0;
            let mut progressed = false;
            while at < best.len() && tries < 4_000 {
                let end = (at + chunk).min(best.len());
                let mut candidate = best[..at].to_vec();
                candidate.extend_from_slice(&best[end..]);
                tries += 1;
                if shows(&candidate) {
                    best = candidate;
                    progressed = true;
                } else {
                    at = end;
                }
            }
            if !progressed {
                if chunk == 1 {
                    break;
                }
                chunk /= 2;
            }
        }
        best
    }
}

/// `bytes` as one printable line: printable ASCII as is, `\n`, `\t`, `\\`, `\"` and every other
/// byte as `\xNN` (the input of a finding, printed by the example and the test).
pub fn escape(bytes: &[u8]) -> String {
    bytes.escape_ascii().to_string()
}

/// The folder kept findings go to: `host/tests/fuzz_regressions/config/`, which
/// `host/tests/config_fuzz.rs` reads back.
pub fn regressions_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fuzz_regressions/config")
}

/// Saves a kept input in `dir` as `<hash>.toml` (a stable name: the same input saved twice is
/// one file) and returns its path.
pub fn save(kept: &Kept, dir: &Path) -> io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    // FNV-1a: stable across Rust versions, unlike `DefaultHasher`.
    let hash = kept.input.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    let path = dir.join(format!("{hash:016x}.toml"));
    std::fs::write(&path, &kept.input)?;
    Ok(path)
}
