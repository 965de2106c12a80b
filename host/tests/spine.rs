//! The spine, in process: simulated seats on a real pty → the daemon's serial path → verified
//! frames → the live model.

use std::time::Duration;

use hemiwatch::model::SeatStatus;
use hemiwatch::sim::{Scenario, SimSeat};
use hemiwatch::testkit::{place, seat_key, SettingsBuilder, TestDaemon};

/// Seats `ids`, steady at 5 Hz, simulated on one pty line "A" that the daemon reads.
fn steady_line(ids: &[u16]) -> SettingsBuilder {
    let seats: Vec<SimSeat> = ids
        .iter()
        .map(|&id| SimSeat::new(id, seat_key(id), Scenario::Steady, 200, 7, 0))
        .collect();
    SettingsBuilder::new()
        .period_ms(200)
        .seats(ids.iter().map(|&id| place(id, "A", Some("A"))))
        .pty_line("A", seats)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seats_on_a_pty_reach_the_model() -> anyhow::Result<()> {
    let ids: Vec<u16> = (100..120).collect();
    let daemon = TestDaemon::start(steady_line(&ids)).await?;
    daemon
        .wait_seats(Duration::from_secs(10), "every seat verified telemetry", |s| {
            s.counters.frames >= 3 && s.status == SeatStatus::Ok
        })
        .await?;
    {
        let m = daemon.live().model.read().unwrap();
        assert_eq!(m.seats.len(), ids.len());
        for s in m.seats.values() {
            let t = s.temps_c[0];
            assert!((30.0..45.0).contains(&t), "seat {} reads {t}", s.place.id);
            assert_eq!(s.heard_on.as_deref(), Some("A"));
            assert_eq!(s.counters.bad_mac, 0);
        }
    }
    daemon.stop().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_daemon_serves_on_the_same_port_and_hears_its_seats_again() -> anyhow::Result<()> {
    let mut daemon = TestDaemon::start(steady_line(&[1, 2, 3])).await?;
    let heard = |s: &hemiwatch::model::SeatState| s.counters.frames >= 3 && s.status == SeatStatus::Ok;
    daemon
        .wait_seats(
            Duration::from_secs(10),
            "every seat heard before the restart",
            heard,
        )
        .await?;
    let addr = daemon.running.http_addr;
    daemon.restart().await?;
    assert_eq!(
        daemon.running.http_addr, addr,
        "same HTTP address after a restart"
    );
    daemon
        .wait_seats(
            Duration::from_secs(10),
            "every seat heard after the restart",
            heard,
        )
        .await?;
    daemon.stop().await
}
