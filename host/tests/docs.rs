//! The man pages and completions in `contrib/` are what `hemiwatch docs` generates from the
//! current clap definitions: a changed flag or help text without regenerated docs fails here.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for sub in ["man", "completions"] {
        let d = dir.join(sub);
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let e = e.expect("directory entry");
            let bytes = std::fs::read(e.path()).expect("readable file");
            out.insert(format!("{sub}/{}", e.file_name().to_string_lossy()), bytes);
        }
    }
    out
}

#[test]
fn committed_man_pages_and_completions_match_the_cli() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let status = Command::new(env!("CARGO_BIN_EXE_hemiwatch"))
        .args(["docs", "--out"])
        .arg(tmp.path())
        .status()
        .expect("hemiwatch docs runs");
    assert!(status.success(), "hemiwatch docs failed: {status}");
    let generated = files(tmp.path());
    let contrib = Path::new(env!("CARGO_MANIFEST_DIR")).join("../contrib");
    let committed = files(&contrib);
    assert!(
        generated.contains_key("man/hemiwatch.1") && generated.contains_key("man/hemiwatch-run.1"),
        "expected a page per command, got {:?}",
        generated.keys().collect::<Vec<_>>()
    );
    let names = |m: &BTreeMap<String, Vec<u8>>| m.keys().cloned().collect::<Vec<_>>();
    assert_eq!(
        names(&committed),
        names(&generated),
        "contrib/ has other files than `hemiwatch docs` writes: run `cargo run -p hemiwatch -- docs --out contrib`"
    );
    for (name, bytes) in &generated {
        assert!(
            committed[name] == *bytes,
            "contrib/{name} is stale: run `cargo run -p hemiwatch -- docs --out contrib`"
        );
    }
}
