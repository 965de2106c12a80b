//! Seat keys as a technician handles them, with the real binary on real files: `keys generate`
//! fills a key folder that `[hemicycle] key_dir` reads, `keys provision` writes the block the
//! firmware parses with the daemon's own key, and `run` refuses demo, duplicated and all-zero
//! keys unless `--allow-demo-keys` (`check-config` reports them).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use hemiwatch_firmware::provision::Provision;

fn hemiwatch(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hemiwatch"))
        .args(args)
        .current_dir(dir)
        .env_remove("HEMIWATCH_CONFIG")
        .env("HEMIWATCH_LOG", "error")
        .output()
        .expect("run hemiwatch")
}

/// `hemiwatch ARGS` that must exit by itself within 10 s (a daemon that starts instead is
/// killed, and reported as such).
fn hemiwatch_exits(dir: &Path, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_hemiwatch"))
        .args(args)
        .current_dir(dir)
        .env("HEMIWATCH_LOG", "error")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run hemiwatch");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while child.try_wait().expect("wait").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let out = child.wait_with_output().expect("output");
            panic!(
                "hemiwatch {args:?} did not exit: it started; stderr:\n{}",
                text(&out.stderr)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A 4-seat hemicycle (one sector, rows of 2) reading its keys from `keys/`.
const ROOM: &str = "[hemicycle]\nsectors = [\"A\"]\nrow_seats = [2, 2]\nkey_dir = \"keys\"\n";

#[test]
fn generated_keys_are_private_random_files_that_key_dir_reads_and_provision_flashes() {
    let dir = tempfile::tempdir().unwrap();
    let out = hemiwatch(
        dir.path(),
        &["keys", "generate", "--dir", "keys", "--seats", "1-4"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("4 key(s) written, 0 kept"),
        "{}",
        text(&out.stdout)
    );
    let mut keys = Vec::new();
    for id in 1..=4u16 {
        let path = dir.path().join(format!("keys/seat-{id:04}.key"));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", path.display());
        let hex = std::fs::read_to_string(&path).unwrap();
        assert_eq!(hex.trim().len(), 32, "{hex}");
        assert_ne!(
            hex.trim(),
            hemiwatch::testkit::key_hex(&hemiwatch_protocol::demo_key(id))
        );
        keys.push(hex.trim().to_owned());
    }
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 4, "every key differs");
    // Again: nothing replaced (a provisioned board keeps working).
    let before = std::fs::read(dir.path().join("keys/seat-0002.key")).unwrap();
    let out = hemiwatch(
        dir.path(),
        &["keys", "generate", "--dir", "keys", "--seats", "1-5"],
    );
    assert!(
        text(&out.stdout).contains("1 key(s) written, 4 kept"),
        "{}",
        text(&out.stdout)
    );
    assert_eq!(
        std::fs::read(dir.path().join("keys/seat-0002.key")).unwrap(),
        before
    );

    // The folder is what key_dir reads: the config is valid, without warnings.
    std::fs::write(dir.path().join("h.toml"), ROOM).unwrap();
    let out = hemiwatch(dir.path(), &["check-config", "h.toml"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("warning"), "{}", text(&out.stderr));

    // The provisioning block holds the daemon's key for the seat, and the firmware parses it.
    let out = hemiwatch(
        dir.path(),
        &[
            "keys",
            "provision",
            "3",
            "--out",
            "seat3.bin",
            "--config",
            "h.toml",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let block = std::fs::read(dir.path().join("seat3.bin")).unwrap();
    assert_eq!(block.len(), 32);
    let p = Provision::parse(&block).expect("the firmware accepts the block");
    assert_eq!(p.seat, 3);
    let file_key = std::fs::read_to_string(dir.path().join("keys/seat-0003.key")).unwrap();
    assert_eq!(hemiwatch::testkit::key_hex(&p.key), file_key.trim());
}

#[test]
fn run_refuses_demo_duplicated_and_zero_keys_and_check_config_reports_them() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("keys")).unwrap();
    let demo1 = hemiwatch::testkit::key_hex(&hemiwatch_protocol::demo_key(1));
    for (id, key) in [
        (1u16, demo1.as_str()),
        (2, "0f0e0d0c0b0a09080706050403020100"),
        (3, "0f0e0d0c0b0a09080706050403020100"),
        (4, "00000000000000000000000000000000"),
    ] {
        let path = dir.path().join(format!("keys/seat-{id:04}.key"));
        std::fs::write(&path, key).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    std::fs::write(dir.path().join("h.toml"), ROOM).unwrap();
    let out = hemiwatch_exits(dir.path(), &["run", "--config", "h.toml"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("1 seat(s) use their PUBLIC demo key") && stderr.contains(": 1\n"),
        "{stderr}"
    );
    assert!(
        stderr.contains("share a key (one seat's key forges the others'): 2, 3"),
        "{stderr}"
    );
    assert!(stderr.contains("1 seat(s) have an all-zero key: 4"), "{stderr}");
    assert!(stderr.contains("--allow-demo-keys"), "{stderr}");

    let out = hemiwatch(dir.path(), &["check-config", "h.toml"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "still a valid file: {stderr}");
    assert_eq!(stderr.matches("warning:").count(), 3, "{stderr}");

    // A weak key is not flashed into a board either.
    let out = hemiwatch(
        dir.path(),
        &["keys", "provision", "4", "--out", "s4.bin", "--config", "h.toml"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(!dir.path().join("s4.bin").exists());
}
