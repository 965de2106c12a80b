//! A long run without drift (issue 17 item 5): `hemiwatch run` (release) as a process reading
//! 577 simulated seats at 2 Hz over 8 real ptys for `SOAK_MINUTES` (default 30), sampled every
//! `SOAK_SAMPLE_SECONDS` (default 60) from outside: resident memory (/proc), the database's size
//! on disk (file + WAL) and its rows (a read connection beside the writer, as WAL allows).
//!
//! Retention is shortened so that it does its job inside the run — raw samples kept
//! [`RAW_RETENTION_MIN`] minutes, 1-minute rollups [`ROLLUP_RETENTION_MIN`] minutes — and the
//! named baseline is the bound those retentions put on the rows: 577 seats × 2 Hz × the raw
//! retention, and 577 rollups per minute of rollup retention. Past the rollup retention
//! (the "steady" half) a daemon without drift grows by nothing: the growth per hour of RSS and
//! database size over that half is the figure.
//!
//! Outside CI: `cargo bench -p hemiwatch --bench soak` (`SOAK_MINUTES=3` for a quick look). Runs
//! the binary from a copy, so rebuilding the workspace during a soak does not touch it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hemiwatch::testkit::{client, free_port, key_hex, seat_key, wait_for, Proc};

const SEATS: u16 = 577;
const LINES: u16 = 8;
/// The simulator's telemetry rate (the firmware's period the simulator runs: 500 ms).
const HZ: u64 = 2;
/// Raw samples are kept this long (the default is a day: too long to see retention in a soak).
const RAW_RETENTION_MIN: u64 = 5;
/// 1-minute rollups are kept this long (the default is 90 days).
const ROLLUP_RETENTION_MIN: u64 = 15;
/// How long the seats and the daemon may take to come up.
const START_WITHIN: Duration = Duration::from_secs(60);
const MIB: f64 = 1024.0 * 1024.0;

/// One observation.
struct Point {
    minute: f64,
    rss_kib: u64,
    db_bytes: u64,
    wal_bytes: u64,
    raw_rows: i64,
    rollup_rows: i64,
    events: i64,
    samples_dropped: i64,
    seats_ok: u64,
}

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let minutes = env_u64("SOAK_MINUTES", 30);
    let every = Duration::from_secs(env_u64("SOAK_SAMPLE_SECONDS", 60).max(1));
    let dir = tempfile::tempdir().expect("temp dir");
    let bin = dir.path().join("hemiwatch");
    std::fs::copy(env!("CARGO_BIN_EXE_hemiwatch"), &bin).expect("copy of the hemiwatch binary");
    let port = free_port();
    let per_line = SEATS.div_ceil(LINES);
    let mut config = format!(
        "[daemon]\ndata_dir = \"{}\"\nhttp_bind = \"127.0.0.1:{port}\"\napi_token = \"bench\"\n\n\
         [storage]\nraw_retention = \"{RAW_RETENTION_MIN}m\"\nrollup_retention = \"{ROLLUP_RETENTION_MIN}m\"\n\n",
        dir.path().display()
    );
    let sim_seconds = (minutes * 60 + 600).to_string();
    let mut sims = Vec::new();
    for l in 0..LINES {
        let link = dir.path().join(format!("line-{l}"));
        config += &format!("[[line]]\nname = \"l{l}\"\npath = \"{}\"\n\n", link.display());
        let first = 1 + l * per_line;
        let count = per_line.min(SEATS + 1 - first);
        for id in first..first + count {
            let key = key_hex(&seat_key(id));
            config += &format!(
                "[[seat]]\nid = {id}\nlabel = \"S{id}\"\nsector = \"{l}\"\nrow = 1\nposition = {id}\nline = \"l{l}\"\nkey = \"{key}\"\n\n"
            );
        }
        sims.push(Proc::new(
            Command::new(&bin)
                .args(["sim", "--scenario", "steady", "--seconds", &sim_seconds])
                .args(["--seats", &count.to_string(), "--first-id", &first.to_string()])
                .arg("--out")
                .arg(format!("pty:{}", link.display()))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("hemiwatch sim"),
            format!("sim line {l}"),
        ));
        wait_for(START_WITHIN, "simulated line", || Ok(link.exists())).expect("simulated line");
    }
    let path = dir.path().join("hemiwatch.toml");
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(config.as_bytes()))
        .expect("config");
    let daemon = Proc::new(
        Command::new(&bin)
            .arg("run")
            .arg("--config")
            .arg(&path)
            .env("HEMIWATCH_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("hemiwatch run"),
        "hemiwatch run",
    );
    let pid = daemon.child.id();
    let http = client();
    let status = || -> Option<serde_json::Value> {
        http.get(format!("http://127.0.0.1:{port}/api/status"))
            .send()
            .ok()?
            .json()
            .ok()
    };
    let seats_ok = |s: &serde_json::Value| s["counts"]["ok"].as_u64().unwrap_or(0);
    wait_for(START_WITHIN, "all 577 seats ok", || {
        Ok(status().is_some_and(|s| seats_ok(&s) == u64::from(SEATS)))
    })
    .expect("all 577 seats ok");
    let db = dir.path().join("hemiwatch.sqlite");
    let conn = rusqlite::Connection::open_with_flags(&db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .expect("read connection");

    println!(
        "soak: {SEATS} seats at {HZ} Hz on {LINES} lines for {minutes} min; raw retention {RAW_RETENTION_MIN} min, rollup retention {ROLLUP_RETENTION_MIN} min"
    );
    println!(
        "| minute | RSS MiB | database MiB | WAL MiB | raw rows | rollup rows | events | samples dropped | seats ok |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    let t0 = Instant::now();
    let mut points = Vec::new();
    let end = t0 + Duration::from_secs(minutes * 60);
    loop {
        let s = status();
        let count = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap_or(-1);
        let p = Point {
            minute: t0.elapsed().as_secs_f64() / 60.0,
            rss_kib: rss_kib(pid),
            db_bytes: file_len(&db),
            wal_bytes: file_len(&with_suffix(&db, "-wal")),
            raw_rows: count("SELECT COUNT(*) FROM samples"),
            rollup_rows: count("SELECT COUNT(*) FROM rollups"),
            events: count("SELECT COUNT(*) FROM events"),
            samples_dropped: dropped(&http, port),
            seats_ok: s.as_ref().map(seats_ok).unwrap_or(0),
        };
        println!(
            "| {:.0} | {:.1} | {:.1} | {:.1} | {} | {} | {} | {} | {} |",
            p.minute,
            p.rss_kib as f64 / 1024.0,
            p.db_bytes as f64 / MIB,
            p.wal_bytes as f64 / MIB,
            p.raw_rows,
            p.rollup_rows,
            p.events,
            p.samples_dropped,
            p.seats_ok
        );
        let _ = std::io::stdout().flush();
        points.push(p);
        if Instant::now() >= end {
            break;
        }
        std::thread::sleep(
            every
                .min(end.saturating_duration_since(Instant::now()))
                .max(Duration::from_millis(1)),
        );
    }
    let steady_from = ROLLUP_RETENTION_MIN as f64 + 1.0;
    let steady: Vec<&Point> = points.iter().filter(|p| p.minute >= steady_from).collect();
    let all: Vec<&Point> = points.iter().collect();
    let growth = |ps: &[&Point], f: &dyn Fn(&Point) -> f64| slope_per_hour(ps, f);
    let rss = |p: &Point| p.rss_kib as f64 / 1024.0;
    let size = |p: &Point| (p.db_bytes + p.wal_bytes) as f64 / MIB;
    println!();
    println!("| growth per hour | whole run (0–{minutes} min) | steady (≥ {steady_from:.0} min, past rollup retention) |");
    println!("|---|---:|---:|");
    let fmt = |v: Option<f64>| {
        v.map(|v| format!("{v:+.2}"))
            .unwrap_or_else(|| "n/a (run too short)".into())
    };
    println!(
        "| RSS, MiB/h | {} | {} |",
        fmt(growth(&all, &rss)),
        fmt(growth(&steady, &rss))
    );
    println!(
        "| database + WAL on disk, MiB/h | {} | {} |",
        fmt(growth(&all, &size)),
        fmt(growth(&steady, &size))
    );
    let last = points.last().expect("at least one point");
    let raw_bound = u64::from(SEATS) * HZ * RAW_RETENTION_MIN * 60;
    let rollup_bound = u64::from(SEATS) * ROLLUP_RETENTION_MIN;
    println!();
    println!("| rows at the end | measured | retention bound (baseline) | ratio |");
    println!("|---|---:|---:|---:|");
    println!(
        "| raw samples: {SEATS} seats × {HZ} Hz × {RAW_RETENTION_MIN} min, plus ≤ 1 min being rolled up | {} | {raw_bound} | {:.2} |",
        last.raw_rows,
        last.raw_rows as f64 / raw_bound as f64
    );
    println!(
        "| 1-minute rollups: {SEATS} seats × {ROLLUP_RETENTION_MIN} min | {} | {rollup_bound} | {:.2} |",
        last.rollup_rows,
        last.rollup_rows as f64 / rollup_bound as f64
    );
    let peak_rss = points.iter().map(|p| p.rss_kib).max().unwrap_or(0);
    println!(
        "note: peak RSS {:.1} MiB, final {:.1} MiB; database + WAL final {:.1} MiB; samples dropped {}",
        peak_rss as f64 / 1024.0,
        last.rss_kib as f64 / 1024.0,
        size(last),
        last.samples_dropped
    );
    drop(daemon);
    drop(sims);
}

/// Least-squares slope of `f` over the points, per hour; `None` with fewer than 3 points.
fn slope_per_hour(ps: &[&Point], f: &dyn Fn(&Point) -> f64) -> Option<f64> {
    if ps.len() < 3 {
        return None;
    }
    let n = ps.len() as f64;
    let mx = ps.iter().map(|p| p.minute).sum::<f64>() / n;
    let my = ps.iter().map(|p| f(p)).sum::<f64>() / n;
    let sxy: f64 = ps.iter().map(|p| (p.minute - mx) * (f(p) - my)).sum();
    let sxx: f64 = ps.iter().map(|p| (p.minute - mx).powi(2)).sum();
    (sxx > 0.0).then(|| sxy / sxx * 60.0)
}

/// Samples the storage writer dropped, from `/metrics`.
fn dropped(http: &reqwest::blocking::Client, port: u16) -> i64 {
    let Some(text) = http
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .ok()
        .and_then(|r| r.text().ok())
    else {
        return -1;
    };
    text.lines()
        .find(|l| l.starts_with("hemiwatch_storage_samples_dropped_total"))
        .and_then(|l| l.split_whitespace().last())
        .and_then(|v| v.parse::<f64>().ok())
        .map(|v| v as i64)
        .unwrap_or(-1)
}

fn with_suffix(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn file_len(p: &Path) -> u64 {
    std::fs::metadata(p).map(|m| m.len()).unwrap_or(0)
}

/// VmRSS of a process, KiB.
fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}
