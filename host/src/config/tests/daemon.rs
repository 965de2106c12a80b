//! `[daemon]` and `[storage]`: the data folder and database path, and the API token from the
//! environment.

use std::time::Duration;

use super::*;

#[test]
fn storage_paths_follow_data_dir_and_the_demo_override() {
    let text =
        "[daemon]\ndata_dir = \"var\"\n[storage]\nraw_retention = \"2h\"\nflush_interval = \"250ms\"\n";
    let mut c = parse(text, "/etc/hemiwatch/hemiwatch.toml").unwrap();
    let s = c.resolve_with_env(no_env).unwrap();
    assert_eq!(
        s.database,
        std::path::Path::new("/etc/hemiwatch/var/hemiwatch.sqlite")
    );
    assert_eq!(s.raw_retention, Duration::from_secs(7200));
    assert_eq!(s.flush_interval, Duration::from_millis(250));
    c.set_data_dir("/tmp/demo-x");
    assert_eq!(c.data_dir(), std::path::Path::new("/tmp/demo-x"));
    let s = c.resolve_with_env(no_env).unwrap();
    assert_eq!(s.database, std::path::Path::new("/tmp/demo-x/hemiwatch.sqlite"));
}

/// A 128-bit token (32 hex digits).
const STRONG: &str = "5f1c0d2e9a8b7c6d5e4f3a2b1c0d9e8f";

/// A token under 128 bits is refused, inline or from the environment.
#[test]
fn a_token_under_128_bits_is_refused() {
    assert_eq!(
        errors("[daemon]\napi_token = \"s3cret-token\"\n"),
        ["t.toml:2:13: error: the API token is too short: about 73 bits, at least 128 needed (e.g. 32 hex digits from `openssl rand -hex 16`)"]
    );
    let e = ok("[daemon]\napi_token_env = \"HW_TOKEN\"\n")
        .resolve_with_env(|n| (n == "HW_TOKEN").then(|| "0123456789abcdef".to_string()))
        .unwrap_err();
    assert!(
        e.to_string()
            .contains("t.toml:2:17: error: the API token is too short"),
        "{e}"
    );
}

#[test]
fn the_api_token_comes_from_the_named_environment_variable() {
    let c = ok("[daemon]\napi_token_env = \"HW_TOKEN\"\n");
    let s = c
        .resolve_with_env(|n| (n == "HW_TOKEN").then(|| STRONG.to_string()))
        .unwrap();
    assert_eq!(s.api_token.as_deref(), Some(STRONG));
    let e = c.resolve_with_env(no_env).unwrap_err();
    assert_eq!(
        e.to_string(),
        "t.toml:2:17: error: api_token_env names HW_TOKEN, but that environment variable is not set"
    );
    let inline = ok(&format!("[daemon]\napi_token = \"{STRONG}\"\n"))
        .resolve_with_env(no_env)
        .unwrap();
    assert_eq!(inline.api_token.as_deref(), Some(STRONG));
    assert!(errors("[daemon]\napi_token = \"abc\"\napi_token_env = \"X\"\n")[0].contains("not both"));
}
