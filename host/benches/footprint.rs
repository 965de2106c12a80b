//! What the daemon costs the server room with a full hemicycle: `hemiwatch run` (release) as a
//! process reading 577 simulated seats at 2 Hz over 8 real ptys (8 `hemiwatch sim` processes, as
//! 8 RS-485 concentrators), measured from outside through /proc: resident memory (target
//! ≤ 40 MiB) and CPU, plus the measured load of one 115200-baud line and how many seats one line
//! carries at ≤ 50 % utilisation.
//!
//! `cargo bench -p hemiwatch --bench footprint` prints a table; nothing is asserted on timing.
//! `FOOTPRINT_SECONDS` (default 30) sets the measurement window.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hemiwatch::testkit::{free_port, key_hex, seat_key, wait_for, Proc};

const SEATS: u16 = 577;
const LINES: u16 = 8;
const BAUD: f64 = 115_200.0;
/// 8N1 framing: a start bit, 8 data bits, a stop bit per byte.
const BITS_PER_BYTE: f64 = 10.0;

/// How long the seats and the daemon may take to come up.
const START_WITHIN: Duration = Duration::from_secs(30);

fn main() {
    let bin = env!("CARGO_BIN_EXE_hemiwatch");
    let window = std::env::var("FOOTPRINT_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30u64);
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let per_line = SEATS.div_ceil(LINES);
    let mut config = format!(
        "[daemon]\ndata_dir = \"{}\"\nhttp_bind = \"127.0.0.1:{port}\"\napi_token = \"bench-5f1c0d2e9a8b7c6d5e4f3a2b1c0d9e8f\"\n\n",
        dir.path().display()
    );
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
            Command::new(bin)
                .args(["sim", "--scenario", "steady", "--seconds", "3600"])
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
        Command::new(bin)
            .arg("run")
            // Its seats sign with the public demo keys (testkit::seat_key).
            .arg("--allow-demo-keys")
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
    let status = || -> Option<serde_json::Value> {
        let body = std::process::Command::new("curl")
            .args([
                "-s",
                "--noproxy",
                "*",
                &format!("http://127.0.0.1:{port}/api/status"),
            ])
            .output()
            .ok()?;
        serde_json::from_slice(&body.stdout).ok()
    };
    wait_for(START_WITHIN, "all 577 seats ok", || {
        Ok(status().is_some_and(|s| s["counts"]["ok"].as_u64() == Some(u64::from(SEATS))))
    })
    .expect("all 577 seats ok");
    // Settle, then measure over the window.
    std::thread::sleep(Duration::from_secs(5));
    let bytes = |s: &serde_json::Value, field: &str| -> u64 {
        s["lines"]
            .as_array()
            .map(|ls| ls.iter().filter_map(|l| l[field].as_u64()).sum())
            .unwrap_or(0)
    };
    let s0 = status().expect("status");
    let cpu0 = cpu_ticks(pid);
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_secs(window));
    let s1 = status().expect("status");
    let cpu1 = cpu_ticks(pid);
    let elapsed = t0.elapsed().as_secs_f64();
    // /proc counts CPU time in USER_HZ ticks, 100 per second on Linux (proc(5)).
    let ticks = 100.0;
    let cpu_pct = (cpu1 - cpu0) as f64 / ticks / elapsed * 100.0;
    let (rss, hwm) = memory_kib(pid);
    // Both directions, measured on the lines: RS-485 is half-duplex, so they share it.
    let per_line_rate = |field| (bytes(&s1, field) - bytes(&s0, field)) as f64 / elapsed / f64::from(LINES);
    let (up_bps, down_bps) = (per_line_rate("bytes"), per_line_rate("bytes_out"));
    let line_load = (up_bps + down_bps) * BITS_PER_BYTE / BAUD;
    let per_seat_load = line_load / f64::from(per_line);
    println!(
        "| daemon with {SEATS} seats at 2 Hz on {LINES} lines ({window} s window) | measured | target |"
    );
    println!("|---|---:|---:|");
    println!(
        "| resident memory (VmRSS) | {:.1} MiB | ≤ 40 MiB |",
        rss as f64 / 1024.0
    );
    println!(
        "| peak resident memory (VmHWM) | {:.1} MiB | ≤ 40 MiB |",
        hwm as f64 / 1024.0
    );
    println!("| CPU | {cpu_pct:.1} % of one core | |");
    println!(
        "| one 115200-baud line, {per_line} seats: {up_bps:.0} B/s up + {down_bps:.0} B/s down | {:.1} % busy | ≤ 50 % |",
        line_load * 100.0
    );
    println!(
        "| seats one line carries at ≤ 50 % (half-duplex RS-485, 8N1) | {:.0} | |",
        (0.5 / per_seat_load).floor()
    );
    drop(daemon);
    drop(sims);
}

/// utime + stime of a process, in clock ticks (/proc/PID/stat fields 14 and 15).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    // The command name may contain spaces: fields start after the closing parenthesis.
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let f = |i: usize| fields.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    // After ")" field 3 (state) is index 0, so utime (14) is index 11 and stime (15) index 12.
    f(11) + f(12)
}

/// VmRSS and VmHWM of a process, KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(Path::new(&format!("/proc/{pid}/status"))).expect("status");
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}
