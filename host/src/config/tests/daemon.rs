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

#[test]
fn the_api_token_comes_from_the_named_environment_variable() {
    let c = ok("[daemon]\napi_token_env = \"HW_TOKEN\"\n");
    let s = c
        .resolve_with_env(|n| (n == "HW_TOKEN").then(|| "s3cret".to_string()))
        .unwrap();
    assert_eq!(s.api_token.as_deref(), Some("s3cret"));
    let e = c.resolve_with_env(no_env).unwrap_err();
    assert_eq!(
        e.to_string(),
        "t.toml:2:17: error: api_token_env names HW_TOKEN, but that environment variable is not set"
    );
    let inline = ok("[daemon]\napi_token = \"abc\"\n")
        .resolve_with_env(no_env)
        .unwrap();
    assert_eq!(inline.api_token.as_deref(), Some("abc"));
    assert!(errors("[daemon]\napi_token = \"abc\"\napi_token_env = \"X\"\n")[0].contains("not both"));
}
