//! Seats on a shared RS-485 wire, in emulated time: today's free-running transmissions collide,
//! the [`hemiwatch_protocol::bus`] scheme never does, settles from a power-on storm by itself,
//! lets late and missing seats be, and delivers every command within the bound its arithmetic
//! gives. Deterministic (seeded), no real time: a minute of a 72-seat line runs in a second.
use hemiwatch_protocol::bus::{FrameSizes, Plan};
use hemiwatch_tests::bus::{aloha, scheduled, Scenario};

const BAUD: u32 = 115_200;
const HZ2: u64 = 500_000_000;
const SECOND: u64 = 1_000_000_000;

#[test]
fn free_running_seats_from_a_power_on_storm_collide() {
    let sc = Scenario::storm(72, HZ2, BAUD, 30 * SECOND, 1);
    let r = aloha(&sc);
    let rate = r.stats.frames_garbled as f64 / r.stats.frames as f64;
    println!(
        "ALOHA, 72 seats at 2 Hz, {BAUD} baud: {} frames, {} garbled ({:.1} %), {} collisions, utilisation {:.2} %",
        r.stats.frames,
        r.stats.frames_garbled,
        100.0 * rate,
        r.stats.collisions,
        100.0 * r.utilisation
    );
    assert_eq!(r.stats.frames, r.uplink_sent, "every frame sent reached the wire");
    // Pure ALOHA at an offered load of 0.30 loses 1 − e^(−0.6) ≈ 45 %; a storm makes it worse at
    // first. Anything above a fifth is a line no one can run on.
    assert!(rate > 0.2, "collision rate {rate}");
    assert!(r.stats.collisions > 0);
    // A clean frame behind one whose delimiter was garbled merges into its garbage: lost too.
    assert!(r.uplink_received <= r.uplink_sent - r.stats.frames_garbled);
    assert!(r.loss() >= rate);
}

#[test]
fn scheduled_seats_never_collide_settle_from_a_storm_and_get_commands_in_time() {
    let mut sc = Scenario::storm(72, HZ2, BAUD, 60 * SECOND, 2);
    // Dead seats, a run of eight among them, and two seats booting mid-cycle.
    sc.absent = vec![5, 17, 30, 31, 32, 33, 34, 35, 36, 37, 60];
    sc.late_boot = vec![(40, 7_300_000_000), (70, 12_345_678_901)];
    let plan = Plan::new(1, sc.seats, sc.period_ns, sc.baud, FrameSizes::MEASURED).unwrap();
    let r = scheduled(&sc);
    println!(
        "scheme, 72 seats (11 dead) at 2 Hz, {BAUD} baud: {} frames, {} collisions, utilisation {:.2} % \
         (arithmetic, all seats present: {:.2} %)",
        r.stats.frames,
        r.stats.collisions,
        100.0 * r.utilisation,
        plan.utilisation_ppm() as f64 / 1e4
    );
    println!(
        "commands: {} delivered, worst {:.1} ms (bound {:.1} ms)",
        r.commands_delivered,
        r.worst_command_ns as f64 / 1e6,
        plan.command_latency_ns() as f64 / 1e6
    );
    assert_eq!(r.stats.collisions, 0, "no two transmitters ever overlap");
    assert_eq!(r.stats.frames_garbled, 0);
    assert_eq!(
        r.uplink_received, r.uplink_sent,
        "every seat frame verified by the host"
    );
    // Storm settled: every live seat (61 and the two late ones) is heard in the last two periods.
    assert_eq!(r.seats_heard_at_end, 72 - 11);
    // 60 s at 2 Hz: about 120 turns per live seat.
    assert!(r.uplink_sent >= 61 * 115, "{} seat frames", r.uplink_sent);
    assert!(r.commands_delivered >= 200, "{} commands", r.commands_delivered);
    assert_eq!(r.commands_lost, 0);
    assert!(
        r.worst_command_ns <= plan.command_latency_ns(),
        "worst command latency {} ns over the bound {} ns",
        r.worst_command_ns,
        plan.command_latency_ns()
    );
}

#[test]
fn a_full_line_of_120_seats_at_2_hz_matches_the_arithmetic() {
    let sc = Scenario {
        commands: false,
        ..Scenario::storm(120, HZ2, BAUD, 20 * SECOND, 3)
    };
    let plan = Plan::new(1, sc.seats, sc.period_ns, sc.baud, FrameSizes::MEASURED).unwrap();
    let r = scheduled(&sc);
    let arithmetic = plan.utilisation_ppm() as f64 / 1e6;
    println!(
        "scheme, 120 seats at 2 Hz, {BAUD} baud: utilisation measured {:.2} %, arithmetic {:.2} %",
        100.0 * r.utilisation,
        100.0 * arithmetic
    );
    assert_eq!(r.stats.collisions, 0);
    assert_eq!(r.seats_heard_at_end, 120);
    assert!(
        (r.utilisation - arithmetic).abs() < 0.005,
        "measured {} against {arithmetic}",
        r.utilisation
    );
}
