//! The `hemiwatch` command line as technicians and scripts use it: the real binary run as a
//! process against a real daemon process. `status` (the summary and `--json`, and its exit
//! status: 0 nothing firing, 2 something firing, 1 cannot tell), `ack` (done, or refused with the
//! daemon's reason and a failing status), `decode` (a capture made by `sim --out FILE` to JSON
//! lines; garbage counted as errors) and `demo --seconds` (577 seats served, stops by itself).

use std::io::BufRead;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use hemiwatch::testkit::{client, free_port, wait_for, Deadline, Proc};
use hemiwatch_tests::harness::{hemiwatch_bin, line_toml, seat_toml, sim_line, Daemon, TOKEN};
use serde_json::Value;

/// Runs `hemiwatch ARGS` to completion (no proxy from the environment, no inherited URL/token).
fn hemiwatch(args: &[&str]) -> Output {
    Command::new(hemiwatch_bin())
        .args(args)
        .env_remove("HEMIWATCH_URL")
        .env_remove("HEMIWATCH_TOKEN")
        .env("NO_PROXY", "*")
        .stdin(Stdio::null())
        .output()
        .expect("hemiwatch runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `hemiwatch status --url URL [extra]`: exit code, stdout, stderr.
fn status(url: &str, extra: &[&str]) -> (Option<i32>, String, String) {
    let mut args = vec!["status", "--url", url];
    args.extend_from_slice(extra);
    let out = hemiwatch(&args);
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

#[test]
fn status_summarises_and_exits_by_what_fires_and_ack_is_done_or_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut body = line_toml("a", dir.path());
    for id in 1..=3 {
        body += &seat_toml(id, "a", None);
    }
    let mut sim = sim_line(&dir.path().join("a"), 1, 3, &[]).unwrap();
    let daemon = Daemon::start(dir.path(), &body).unwrap();
    daemon.wait_frames(2, Duration::from_secs(10)).unwrap();

    let (code, out, err) = status(&daemon.url, &[]);
    assert_eq!(code, Some(0), "nothing firing: exit 0\n{out}{err}");
    for line in ["seats: 3 (ok 3)", "lines: 1 up, 0 down", "firing alerts: none"] {
        assert!(out.lines().any(|l| l == line), "summary line {line:?} in:\n{out}");
    }
    let (code, out, err) = status(&daemon.url, &["--json"]);
    assert_eq!(code, Some(0), "--json, nothing firing: exit 0\n{err}");
    let json: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("--json is JSON ({e}):\n{out}"));
    assert_eq!(json["seats"], 3, "{json}");

    // The line goes quiet: one line_down alert fires.
    sim.kill();
    wait_for(Duration::from_secs(15), "status exits 2 (firing)", || {
        Ok(status(&daemon.url, &[]).0 == Some(2))
    })
    .unwrap_or_else(|e| panic!("{e}\n{}", daemon.log_text()));
    let (code, out, _) = status(&daemon.url, &[]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.lines().any(|l| l == "lines: 0 up, 1 down"), "{out}");
    assert!(out.lines().any(|l| l == "  down: a"), "{out}");
    assert!(out.lines().any(|l| l == "firing alerts: 1"), "{out}");
    let (code, out, err) = status(&daemon.url, &["--json"]);
    assert_eq!(code, Some(2), "--json, firing: exit 2\n{err}");
    let json: Value = serde_json::from_str(&out).unwrap();
    let alert = &json["alerts_firing"][0];
    assert_eq!(alert["kind"], "line_down", "{json}");
    let id = alert["id"].as_i64().expect("alert id");
    let summary = status(&daemon.url, &[]).1;
    assert!(
        summary
            .lines()
            .any(|l| l.starts_with(&format!("  #{id} line_down line a: "))),
        "the firing alert on its own line, with id, kind and subject:\n{summary}"
    );

    // ack: a wrong token is refused with the daemon's reason, and changes nothing.
    let id_arg = id.to_string();
    let refused = hemiwatch(&[
        "ack",
        &id_arg,
        "--url",
        &daemon.url,
        "--token",
        "nope",
        "--by",
        "ana",
    ]);
    assert_eq!(refused.status.code(), Some(1), "a refused ack fails");
    let err = text(&refused.stderr);
    assert!(
        err.contains("401") && err.to_lowercase().contains("token"),
        "the refusal says why: {err}"
    );
    let done = hemiwatch(&[
        "ack",
        &id_arg,
        "--url",
        &daemon.url,
        "--token",
        TOKEN,
        "--by",
        "ana",
        "--comment",
        "cable reseated",
    ]);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done.stderr));
    let acked: Value = serde_json::from_slice(&done.stdout).expect("ack prints the alert as JSON");
    assert_eq!(acked["ack"]["by"], "ana", "{acked}");
    let summary = status(&daemon.url, &[]).1;
    assert!(
        summary.contains(&format!("  #{id} line_down line a (acknowledged): ")),
        "{summary}"
    );

    // A daemon that cannot be reached: status cannot tell.
    let nowhere = format!("http://127.0.0.1:{}", free_port());
    let (code, _, err) = status(&nowhere, &[]);
    assert_eq!(code, Some(1), "unreachable: exit 1\n{err}");
    assert!(err.contains("cannot reach the daemon"), "{err}");
}

#[test]
fn decode_turns_a_sim_capture_into_json_lines_and_counts_garbage() {
    let dir = tempfile::tempdir().unwrap();
    let capture = dir.path().join("cap.bin");
    let cap = capture.to_str().unwrap();
    let made = hemiwatch(&[
        "sim",
        "--seats",
        "3",
        "--seconds",
        "5",
        "--scenario",
        "steady",
        "--out",
        cap,
    ]);
    assert!(made.status.success(), "sim --out FILE: {}", text(&made.stderr));

    let out = hemiwatch(&["decode", cap]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let frames: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    // 3 seats at 2 Hz for 5 s on a beaconed line: one frame per turn, 30 turns at most, less
    // the turns before each seat's power-on; the first turn of each is its Hello.
    assert!(
        (24..=30).contains(&frames.len()),
        "{} frames decoded",
        frames.len()
    );
    assert_eq!(
        text(&out.stderr).trim(),
        format!("{} frames, 0 errors", frames.len()),
        "the count on stderr"
    );

    assert!(
        frames.iter().all(|f| f.get("error").is_none()),
        "a clean capture decodes without errors"
    );

    // Garbage between delimiters: no frame, every chunk an error line, counted.
    let garbage: Vec<u8> = (0..40u8)
        .flat_map(|i| {
            let mut chunk: Vec<u8> = (1..=20u8).map(|b| b.wrapping_mul(i + 7) | 1).collect();
            chunk.push(0);
            chunk
        })
        .collect();
    let junk = dir.path().join("junk.bin");
    std::fs::write(&junk, garbage).unwrap();
    let out = hemiwatch(&["decode", junk.to_str().unwrap()]);
    let lines: Vec<Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON line ({e}): {l}")))
        .collect();
    assert_eq!(lines.len(), 40, "one line per garbage chunk");
    assert!(
        lines.iter().all(|l| l["error"].is_string()),
        "each says what was wrong: {lines:?}"
    );
    let err = text(&out.stderr);
    assert_eq!(
        err.trim(),
        "0 frames, 40 errors",
        "every garbage chunk counted: {err}"
    );
}

#[test]
fn demo_prints_its_url_and_token_serves_577_seats_and_stops_by_itself() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let child = Command::new(hemiwatch_bin())
        .args(["demo", "--seconds", "6", "--http-bind", &bind, "--data-dir"])
        .arg(dir.path())
        .env_remove("HEMIWATCH_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn hemiwatch demo");
    let mut demo = Proc::new(child, "hemiwatch demo");
    let stdout = demo.child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Deadline::after(Duration::from_secs(30), "the demo's dashboard URL and API token");
    let (mut url, mut token) = (None, None);
    while url.is_none() || token.is_none() {
        let line = rx.recv_timeout(deadline.remaining()).unwrap_or_else(|_| {
            panic!(
                "{}",
                deadline.check().err().map(|e| e.to_string()).unwrap_or_default()
            )
        });
        if let Some(u) = line.trim().strip_prefix("dashboard: ") {
            url = Some(u.trim().to_owned());
        }
        if let Some(t) = line.trim().strip_prefix("API token: ") {
            token = t.split_whitespace().next().map(str::to_owned);
        }
    }
    let url = url.unwrap();
    assert_eq!(url, format!("http://{bind}/"));
    assert_eq!(
        token.as_deref().map(str::len),
        Some(32),
        "a random 16-byte token, in hex"
    );

    let status: Value = client()
        .get(format!("{url}api/status"))
        .send()
        .and_then(|r| r.error_for_status())
        .and_then(|r| r.json())
        .expect("the demo serves /api/status");
    assert_eq!(status["seats"], 577, "{status}");

    let exit = demo
        .wait_exit(Duration::from_secs(30))
        .expect("the demo stops by itself after --seconds");
    assert!(exit.success(), "the demo exits 0: {exit}");
}
