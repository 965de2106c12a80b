//! Installing Hemiwatch in a server room (issue 16), one binary so these slow tests run side by
//! side. The daemon speaks systemd's notify protocol
//! (READY once it serves, WATCHDOG from the state task's heartbeat and never while the stall
//! detector finds it late, STOPPING on SIGTERM), tested against a fake `NOTIFY_SOCKET`; and the
//! Debian package is built with `cargo deb`, inspected, installed with `dpkg -i` on this machine,
//! its unit verified with `systemd-analyze verify`, its installed config checked by the installed
//! binary as the service's own user, then purged. The Prometheus rules shipped in
//! `contrib/prometheus/` pass `promtool check rules` and `promtool test rules`, and a real
//! Prometheus server (Debian `prometheus`) scraping a running daemon with those rules fires one on
//! a simulated incident: the daemon frozen for 3 s (a stall, as a paused VM or a blocking call
//! would cause).

use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hemiwatch::testkit::{client, free_port, wait_for, Proc};
use hemiwatch_tests::harness::{
    hemiwatch_bin, line_toml, seat_toml, sim_line, workspace_root, Daemon, TOKEN,
};
use nix::sys::signal::Signal;
use serde_json::Value;

/// Datagrams received on `sock` until `until` passes, each with its arrival time.
fn collect(sock: &UnixDatagram, until: Instant) -> Vec<(Instant, String)> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Some(left) = until.checked_duration_since(Instant::now()) {
        sock.set_read_timeout(Some(left.max(Duration::from_millis(1))))
            .expect("read timeout");
        if let Ok(n) = sock.recv(&mut buf) {
            out.push((Instant::now(), String::from_utf8_lossy(&buf[..n]).into_owned()));
        }
    }
    out
}

fn pets(msgs: &[(Instant, String)]) -> usize {
    msgs.iter()
        .filter(|(_, m)| m.lines().any(|l| l == "WATCHDOG=1"))
        .count()
}

#[test]
fn the_daemon_says_ready_once_serving_pets_its_watchdog_only_while_on_time_and_says_stopping() {
    let dir = tempfile::tempdir().unwrap();
    let _sim = sim_line(&dir.path().join("a"), 1, 2, &[]).unwrap();
    let port = free_port();
    let config = dir.path().join("hemiwatch.toml");
    std::fs::write(
        &config,
        format!(
            "[daemon]\ndata_dir = \"{}\"\nhttp_bind = \"127.0.0.1:{port}\"\napi_token = \"{TOKEN}\"\n\n{}{}{}",
            dir.path().display(),
            line_toml("a", dir.path()),
            seat_toml(1, "a", None),
            seat_toml(2, "a", None)
        ),
    )
    .unwrap();
    let socket = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&socket).unwrap();
    let child = Command::new(hemiwatch_bin())
        .args(["run", "--allow-demo-keys", "--config"])
        .arg(&config)
        .env("NOTIFY_SOCKET", &socket)
        // systemd's WatchdogSec=1s: a pet at least every 500 ms.
        .env("WATCHDOG_USEC", "1000000")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(dir.path().join("stderr.log")).unwrap())
        .spawn()
        .unwrap();
    let mut daemon = Proc::new(child, "hemiwatch run");
    let log = || std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default();

    // READY=1 first, and only once the API answers.
    sock.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut buf = [0u8; 4096];
    let n = sock
        .recv(&mut buf)
        .unwrap_or_else(|e| panic!("a notification within 20 s: {e}; the daemon's log:\n{}", log()));
    let first = String::from_utf8_lossy(&buf[..n]).into_owned();
    assert!(
        first.lines().any(|l| l == "READY=1"),
        "first notification is READY=1: {first:?}"
    );
    assert!(
        first.contains("STATUS=monitoring 2 seats on 1 lines"),
        "{first:?}"
    );
    let status = client()
        .get(format!("http://127.0.0.1:{port}/api/status"))
        .send()
        .expect("the API answers as soon as READY=1 is sent");
    assert!(status.status().is_success(), "{}", status.status());

    // On time: pets every half timeout (500 ms) or so.
    let msgs = collect(&sock, Instant::now() + Duration::from_secs(3));
    assert!(
        (4..=8).contains(&pets(&msgs)),
        "pets in 3 s with WatchdogSec=1s: {msgs:?}"
    );

    // Frozen for 2 s (what a blocking call on the runtime or a paused VM does): once it runs
    // again the stall detector judges the task late and the pets stop, so systemd would
    // restart it after WatchdogSec.
    daemon.signal(Signal::SIGSTOP);
    std::thread::sleep(Duration::from_secs(2));
    // Pets sent before the freeze are not what is judged.
    sock.set_nonblocking(true).unwrap();
    while sock.recv(&mut buf).is_ok() {}
    sock.set_nonblocking(false).unwrap();
    daemon.signal(Signal::SIGCONT);
    let msgs = collect(&sock, Instant::now() + Duration::from_secs(3));
    assert_eq!(
        pets(&msgs),
        0,
        "no pet while the stall detector says late: {msgs:?}"
    );

    daemon.signal(Signal::SIGTERM);
    let msgs = collect(&sock, Instant::now() + Duration::from_secs(5));
    assert!(
        msgs.iter().any(|(_, m)| m.lines().any(|l| l == "STOPPING=1")),
        "STOPPING=1 on SIGTERM: {msgs:?}"
    );
    let exit = daemon.wait_exit(Duration::from_secs(10)).expect("stops");
    assert!(exit.success(), "{exit}");
}

/// Runs a command to completion; its output when it fails.
fn run(cmd: &mut Command) -> String {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{cmd:?} failed ({}):\n{text}", out.status);
    text
}

/// Purges the package when the test ends, however it ends.
struct Purge;
impl Drop for Purge {
    fn drop(&mut self) {
        let _ = Command::new("dpkg").args(["--purge", "hemiwatch"]).output();
    }
}

#[test]
fn the_debian_package_installs_a_hardened_service_whose_config_checks() {
    assert!(
        run(Command::new("id").arg("-u")).trim() == "0",
        "installing the package with dpkg -i needs root (CI runs as root)"
    );
    let out = tempfile::tempdir().unwrap();
    // The workspace's debug binary, packaged as `scripts/package.sh` packages the release one:
    // what is checked here is the package, not the optimiser.
    hemiwatch_bin();
    run(
        Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .current_dir(workspace_root())
            .args([
                "deb",
                "-p",
                "hemiwatch",
                "--profile",
                "dev",
                "--fast",
                "--no-strip",
                "-q",
                "-o",
            ])
            .arg(out.path()),
    );
    let deb = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "deb"))
        .expect("a .deb was written");

    let contents = run(Command::new("dpkg-deb").arg("-c").arg(&deb));
    for path in [
        "./usr/bin/hemiwatch",
        "./etc/hemiwatch/hemiwatch.toml",
        "./usr/lib/systemd/system/hemiwatch.service",
        "./usr/share/man/man1/hemiwatch.1.gz",
        "./usr/share/man/man1/hemiwatch-run.1.gz",
        "./usr/share/bash-completion/completions/hemiwatch",
        "./usr/share/zsh/vendor-completions/_hemiwatch",
        "./usr/share/fish/vendor_completions.d/hemiwatch.fish",
        "./usr/share/doc/hemiwatch/examples/udev/99-hemiwatch.rules",
        "./usr/share/doc/hemiwatch/examples/prometheus/hemiwatch.rules.yml",
    ] {
        assert!(
            contents.lines().any(|l| l.ends_with(path)),
            "{path} in the package:\n{contents}"
        );
    }
    let ctrl = tempfile::tempdir().unwrap();
    run(Command::new("dpkg-deb").arg("-e").arg(&deb).arg(ctrl.path()));
    let conffiles = std::fs::read_to_string(ctrl.path().join("conffiles")).unwrap();
    assert_eq!(conffiles.trim(), "/etc/hemiwatch/hemiwatch.toml", "conffiles");

    let _purge = Purge;
    run(Command::new("dpkg").arg("-i").arg(&deb));
    let unit = Path::new("/usr/lib/systemd/system/hemiwatch.service");
    let text = std::fs::read_to_string(unit).unwrap();
    for line in [
        "Type=notify",
        "WatchdogSec=30s",
        "User=hemiwatch",
        "SupplementaryGroups=dialout",
        "StateDirectory=hemiwatch",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} in the unit:\n{text}");
    }
    run(Command::new("systemd-analyze").arg("verify").arg(unit));
    let groups = run(Command::new("id").args(["-nG", "hemiwatch"]));
    assert!(
        groups.split_whitespace().any(|g| g == "dialout"),
        "hemiwatch in dialout: {groups}"
    );
    // The installed binary checks the installed config as the service will read it: as the
    // service's user, with the API token the package generated.
    let checked = run(Command::new("runuser").args([
        "-u",
        "hemiwatch",
        "--",
        "sh",
        "-c",
        "set -a; . /etc/hemiwatch/hemiwatch.env; exec /usr/bin/hemiwatch check-config /etc/hemiwatch/hemiwatch.toml",
    ]));
    assert!(
        checked.contains("/etc/hemiwatch/hemiwatch.toml: valid"),
        "{checked}"
    );
    let man = run(Command::new("man").args(["-w", "hemiwatch-run"]));
    assert!(man.contains("hemiwatch-run.1"), "{man}");
}

fn rules_dir() -> std::path::PathBuf {
    workspace_root().join("contrib/prometheus")
}

#[test]
fn the_shipped_rules_pass_promtool_check_and_their_unit_tests() {
    for args in [
        vec!["check", "rules", "hemiwatch.rules.yml"],
        vec!["test", "rules", "hemiwatch.rules.test.yml"],
    ] {
        let out = Command::new("promtool")
            .args(&args)
            .current_dir(rules_dir())
            .output()
            .expect("promtool runs (scripts/setup.sh installs the prometheus package)");
        assert!(
            out.status.success(),
            "promtool {}:\n{}{}",
            args.join(" "),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// The state of alert `name` in Prometheus's `/api/v1/alerts` (`None`: inactive).
fn alert_state(url: &str, name: &str) -> anyhow::Result<Option<String>> {
    let v: Value = client().get(format!("{url}/api/v1/alerts")).send()?.json()?;
    Ok(v["data"]["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["labels"]["alertname"] == name)
        .and_then(|a| a["state"].as_str().map(str::to_owned)))
}

#[test]
fn a_real_prometheus_scraping_the_daemon_fires_the_stall_rule_when_the_daemon_freezes() {
    let dir = tempfile::tempdir().unwrap();
    let _sim = sim_line(&dir.path().join("a"), 1, 2, &[]).unwrap();
    let body = line_toml("a", dir.path()) + &seat_toml(1, "a", None) + &seat_toml(2, "a", None);
    let daemon = Daemon::start(dir.path(), &body).unwrap();
    let target = daemon.url.trim_start_matches("http://").to_owned();

    let port = free_port();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files:\n  - {}\nscrape_configs:\n  - job_name: hemiwatch\n    static_configs:\n      - targets: ['{target}']\n",
            rules_dir().join("hemiwatch.rules.yml").display()
        ),
    )
    .unwrap();
    let log = std::fs::File::create(dir.path().join("prometheus.log")).unwrap();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("tsdb").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("prometheus runs (scripts/setup.sh installs it)");
    let _prometheus = Proc::new(child, "prometheus");
    let url = format!("http://127.0.0.1:{port}");

    // Scraped and healthy: the target is up and no stall rule is pending.
    wait_for(Duration::from_secs(30), "Prometheus scraping the daemon", || {
        let v: Value = client()
            .get(format!("{url}/api/v1/query?query=up{{job=\"hemiwatch\"}}"))
            .send()?
            .json()?;
        Ok(v["data"]["result"][0]["value"][1] == "1")
    })
    .unwrap();
    assert_eq!(
        alert_state(&url, "HemiwatchStalled").unwrap(),
        None,
        "healthy daemon"
    );

    daemon.proc.signal(Signal::SIGSTOP);
    std::thread::sleep(Duration::from_secs(3));
    daemon.proc.signal(Signal::SIGCONT);
    // `for: 30s` after the stall counter moved.
    wait_for(Duration::from_secs(60), "HemiwatchStalled firing", || {
        Ok(alert_state(&url, "HemiwatchStalled")?.as_deref() == Some("firing"))
    })
    .unwrap_or_else(|e| {
        let log = std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default();
        panic!("{e:#}\nprometheus log:\n{log}")
    });
}
