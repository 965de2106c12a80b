//! Seat keys: key files relative to the config's folder, raw or hex, and a `key_dir` with its
//! missing files listed together.

use hemiwatch_protocol::SeatKey;

use super::*;

#[test]
fn key_files_are_relative_to_the_config_folder() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("etc");
    std::fs::create_dir_all(conf.join("keys")).unwrap();
    std::fs::write(
        conf.join("keys/seat-0007.key"),
        "0f0e0d0c0b0a09080706050403020100\n",
    )
    .unwrap();
    let raw: [u8; 16] = *b"\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09\x0a\x0b\x0c\x0d\x0e\x0f";
    std::fs::write(conf.join("keys/raw.bin"), raw).unwrap();
    std::fs::write(conf.join("keys/short.key"), "0f0e").unwrap();
    let path = conf.join("hemiwatch.toml");
    let text = "[[seat]]\nid = 7\nsector = \"A\"\nrow = 1\nposition = 1\nkey_file = \"keys/seat-0007.key\"\n\
                [[seat]]\nid = 8\nsector = \"A\"\nrow = 1\nposition = 2\nkey_file = \"keys/raw.bin\"\n";
    std::fs::write(&path, text).unwrap();
    // Resolved from another working directory: only the config's folder matters.
    let s = load(&path).unwrap().resolve_with_env(no_env).unwrap();
    assert_eq!(
        seat(&s, 7).key,
        Some(SeatKey(hex_key("0f0e0d0c0b0a09080706050403020100")))
    );
    assert_eq!(seat(&s, 8).key, Some(SeatKey(raw)));

    std::fs::write(
        &path,
        text.replace("raw.bin", "short.key")
            .replace("seat-0007", "absent"),
    )
    .unwrap();
    let e = load(&path).unwrap().resolve_with_env(no_env).unwrap_err();
    let msgs: Vec<String> = e.errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    assert!(
        msgs[0].contains(":6:12: error: key_file keys/absent.key for seat 7 does not exist"),
        "{}",
        msgs[0]
    );
    assert!(
        msgs[1].contains(":12:12: error: key_file keys/short.key for seat 8: holds 4 bytes"),
        "{}",
        msgs[1]
    );
}

#[test]
fn only_a_small_regular_file_is_read_as_a_key() {
    // Found by the config fuzzer: `key_file = "/dev/zero"` was read until memory ran out, and a
    // pipe would have blocked `check-config` for ever.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("big.key"), vec![b' '; 4097]).unwrap();
    std::fs::write(
        dir.path().join("padded.key"),
        format!("{}{KEY_A}\n", " ".repeat(4000)),
    )
    .unwrap();
    std::fs::create_dir(dir.path().join("folder.key")).unwrap();
    nix::unistd::mkfifo(&dir.path().join("pipe.key"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    let path = dir.path().join("h.toml");
    let message = |key_file: &str| {
        std::fs::write(
            &path,
            format!("[[seat]]\nid = 1\nsector = \"A\"\nrow = 1\nposition = 1\nkey_file = \"{key_file}\"\n"),
        )
        .unwrap();
        match load(&path).unwrap().resolve_with_env(no_env) {
            Ok(s) => format!("valid: {:?}", seat(&s, 1).key.as_ref().map(|k| k.0)),
            Err(e) => e
                .errors
                .iter()
                .map(|e| e.message.clone())
                .collect::<Vec<_>>()
                .join("; "),
        }
    };
    assert_eq!(
        message("/dev/zero"),
        "key_file /dev/zero for seat 1: is not a regular file; a key file holds 32 hex digits or 16 raw bytes"
    );
    for not_a_file in ["pipe.key", "folder.key"] {
        assert!(
            message(not_a_file).contains("is not a regular file"),
            "{not_a_file}"
        );
    }
    assert_eq!(
        message("big.key"),
        "key_file big.key for seat 1: is larger than 4096 bytes; expected 32 hex digits or 16 raw bytes"
    );
    // Up to the bound, whitespace around the digits is still fine.
    assert_eq!(
        message("padded.key"),
        format!("valid: {:?}", Some(hex_key(KEY_A)))
    );
}

#[test]
fn key_dir_gives_one_file_per_seat_and_lists_the_missing_ones() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("keys")).unwrap();
    for id in [1u16, 2, 4] {
        std::fs::write(
            dir.path().join("keys").join(key_file_name(id)),
            format!("{:032x}", id),
        )
        .unwrap();
    }
    let path = dir.path().join("h.toml");
    std::fs::write(
        &path,
        "[hemicycle]\nsectors = [\"A\"]\nrow_seats = [2, 2]\nkey_dir = \"keys\"\n",
    )
    .unwrap();
    let e = load(&path).unwrap().resolve_with_env(no_env).unwrap_err();
    assert_eq!(e.len(), 1);
    assert!(
        e.errors[0]
            .to_string()
            .contains(":4:11: error: key_dir has no key file for 1 seat(s): 3"),
        "{e}"
    );
    std::fs::write(
        dir.path().join("keys").join("seat-0003.key"),
        format!("{:032x}", 3),
    )
    .unwrap();
    let s = load(&path).unwrap().resolve_with_env(no_env).unwrap();
    let mut k = [0u8; 16];
    k[15] = 3;
    assert_eq!(seat(&s, 3).key, Some(SeatKey(k)));
}
