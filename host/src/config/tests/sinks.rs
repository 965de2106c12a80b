//! `[[sink]]`: each kind built from its entry, and its checks.

use super::*;

#[test]
fn sinks_are_built_and_checked() {
    let s = ok(r#"
[[sink]]
kind = "alertmanager"
url = "http://127.0.0.1:9093/"
[[sink]]
kind = "webhook"
url = "https://example.org/h"
timeout = "2s"
[[sink]]
kind = "exec"
command = "/bin/true"
"#)
    .resolve_with_env(no_env)
    .unwrap();
    let names: Vec<&str> = s.sinks.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["alertmanager", "webhook", "exec"]);
    let e = errors(
        r#"[[sink]]
kind = "webhook"
url = "ftp://example.org/"
[[sink]]
kind = "exec"
command = "/bin/echo"
args = ["x"]
url = "http://x/"
[[sink]]
kind = "alertmanager"
"#,
    );
    assert_eq!(
        e,
        [
            "t.toml:3:7: error: url of a webhook sink must be http:// or https://, not ftp://",
            "t.toml:7:8: error: the exec sink does not pass arguments yet: point command at a script that adds them",
            "t.toml:8:7: error: `url` does not apply to an exec sink",
            "t.toml:10:8: error: an alertmanager sink needs url = \"http://...\"",
        ]
    );
}

/// Two sinks of one kind need distinct names (the outbox tells them apart by name); an exec
/// hook's `env` may not name the variable holding the API token.
#[test]
fn sinks_have_distinct_names_and_hooks_never_get_the_token() {
    let s = ok(r#"
[[sink]]
kind = "webhook"
url = "http://127.0.0.1:1/a"
[[sink]]
kind = "webhook"
name = "chat"
url = "http://127.0.0.1:1/b"
[[sink]]
kind = "exec"
command = "/bin/true"
env = ["PATH"]
"#)
    .resolve_with_env(no_env)
    .unwrap();
    let names: Vec<&str> = s.sinks.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["webhook", "chat", "exec"]);
    let e = errors(
        r#"[daemon]
api_token_env = "HW_TOKEN"
[[sink]]
kind = "webhook"
url = "http://127.0.0.1:1/a"
[[sink]]
kind = "webhook"
url = "http://127.0.0.1:1/b"
[[sink]]
kind = "exec"
command = "/bin/true"
env = ["PATH", "HW_TOKEN"]
"#,
    );
    assert!(
        e.iter()
            .any(|m| m.starts_with("t.toml:7:8: error: a second webhook sink needs name")),
        "{e:?}"
    );
    assert!(
        e.iter()
            .any(|m| m.starts_with("t.toml:12:7: error: env names HW_TOKEN")),
        "{e:?}"
    );
}
