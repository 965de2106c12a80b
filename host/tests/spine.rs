//! The spine, in process: simulated seats on a real pty → the daemon's serial path → verified
//! frames → the live model.

use std::time::Duration;

use hemiwatch::model::SeatStatus;
use hemiwatch::sim::{Scenario, SimSeat};
use hemiwatch::testkit::{place, seat_key, SettingsBuilder, TestDaemon};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seats_on_a_pty_reach_the_model() -> anyhow::Result<()> {
    let ids: Vec<u16> = (100..120).collect();
    let seats: Vec<SimSeat> = ids
        .iter()
        .map(|&id| SimSeat::new(id, seat_key(id), Scenario::Steady, 200, 7, 0))
        .collect();
    let settings = SettingsBuilder::new()
        .period_ms(200)
        .seats(ids.iter().map(|&id| place(id, "A", Some("A"))))
        .pty_line("A", seats);
    let daemon = TestDaemon::start(settings).await?;
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
