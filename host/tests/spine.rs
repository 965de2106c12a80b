//! The spine, in process: simulated seats on a real pty → the daemon's serial path → verified
//! frames → the live model.

use std::time::{Duration, Instant};

use hemiwatch::config::{LineSettings, SeatSettings, Settings};
use hemiwatch::daemon::run;
use hemiwatch::model::{SeatPlace, SeatStatus};
use hemiwatch::sim::{run_pty_line, Scenario, SimSeat};
use hemiwatch::source::Endpoint;
use hemiwatch_protocol::SeatKey;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

fn key(seat: u16) -> SeatKey {
    let mut k = [0x5a; 16];
    k[..2].copy_from_slice(&seat.to_le_bytes());
    SeatKey(k)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seats_on_a_pty_reach_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("line-a");
    let ids: Vec<u16> = (100..120).collect();
    let seats: Vec<SimSeat> = ids
        .iter()
        .map(|&id| SimSeat::new(id, key(id), Scenario::Steady, 200, 7, 0))
        .collect();
    let shutdown = CancellationToken::new();
    let (_ctl_tx, ctl_rx) = mpsc::channel(4);
    let sim = tokio::spawn(run_pty_line(seats, link.clone(), ctl_rx, shutdown.clone()));
    while !link.exists() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let settings = Settings {
        lines: vec![LineSettings {
            name: "A".into(),
            endpoint: Endpoint::parse(link.to_str().unwrap(), 115200).unwrap(),
        }],
        seats: ids
            .iter()
            .map(|&id| SeatSettings {
                place: SeatPlace {
                    id,
                    label: format!("S{id}"),
                    sector: "A".into(),
                    row: 1,
                    position: id,
                    line: Some("A".into()),
                },
                key: Some(key(id)),
                warn_c: 70.0,
                critical_c: 85.0,
                horizon_s: 300,
                period_ms: 200,
            })
            .collect(),
        http_bind: "127.0.0.1:0".parse().unwrap(),
        api_token: None,
        database: dir.path().join("db.sqlite"),
        raw_retention: std::time::Duration::from_secs(86_400),
        rollup_retention: std::time::Duration::from_secs(90 * 86_400),
        flush_interval: std::time::Duration::from_secs(1),
        sinks: Vec::new(),
    };
    let (live_tx, mut live_rx) = mpsc::channel(1);
    let daemon = tokio::spawn(run(settings, shutdown.clone(), move |r| {
        let _ = live_tx.try_send(r.live.clone());
    }));
    let live = live_rx.recv().await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let heard = {
            let m = live.model.read().unwrap();
            m.seats
                .values()
                .filter(|s| s.counters.frames >= 3 && s.status == SeatStatus::Ok)
                .count()
        };
        if heard == ids.len() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {heard}/{} seats verified telemetry",
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    {
        let m = live.model.read().unwrap();
        for s in m.seats.values() {
            let t = s.temps_c[0];
            assert!((30.0..45.0).contains(&t), "seat {} reads {t}", s.place.id);
            assert_eq!(s.heard_on.as_deref(), Some("A"));
            assert_eq!(s.counters.bad_mac, 0);
        }
    }
    shutdown.cancel();
    daemon.await.unwrap().unwrap();
    sim.await.unwrap().unwrap();
}
