//! Prints the bus table: for 72 and 120 seats per line, 1 and 2 Hz telemetry, 115200 and 460800
//! baud — the arithmetic of [`hemiwatch_protocol::bus::Plan`] beside what the wire emulator
//! measures for the scheme (a minute of emulated line, power-on storm, `Failover` commands), and
//! beside it the named baseline: today's free-running seats (ALOHA) on the same wire.
//!
//! `cargo run -p hemiwatch-tests --example bus_table` (add `-- SECONDS` to emulate longer).
use hemiwatch_protocol::bus::{FrameSizes, Plan};
use hemiwatch_tests::bus::{aloha, scheduled, Scenario};

fn main() {
    let seconds: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(60);
    println!("{seconds} s of emulated line per row; utilisation = share of time characters are on the wire");
    println!(
        "| seats | rate | baud   | rounds | util. arith. | util. measured | busy arith. | cmd latency bound | cmd latency measured | collisions | ALOHA frames lost to collisions |"
    );
    println!(
        "|-------|------|--------|--------|--------------|----------------|-------------|-------------------|----------------------|------------|---------------------------------|"
    );
    for baud in [115_200, 460_800] {
        for seats in [72u16, 120] {
            for hz in [1u64, 2] {
                let period = 1_000_000_000 / hz;
                let plan = Plan::new(1, seats, period, baud, FrameSizes::MEASURED).expect("the line fits");
                let sc = Scenario::storm(seats, period, baud, seconds * 1_000_000_000, 7);
                let s = scheduled(&sc);
                let a = aloha(&sc);
                println!(
                    "| {seats:5} | {hz} Hz | {baud:6} | {:6} | {:10.2} % | {:12.2} % | {:9.2} % | {:14.1} ms | {:17.1} ms | {:10} | {:12.1} % ({} collisions) |",
                    plan.rounds,
                    plan.utilisation_ppm() as f64 / 1e4,
                    100.0 * s.utilisation,
                    plan.busy_ppm() as f64 / 1e4,
                    plan.command_latency_ns() as f64 / 1e6,
                    s.worst_command_ns as f64 / 1e6,
                    s.stats.collisions,
                    100.0 * a.stats.frames_garbled as f64 / a.stats.frames as f64,
                    a.stats.collisions,
                );
            }
        }
    }
}
