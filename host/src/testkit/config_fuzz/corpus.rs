//! The config fuzzer's seeds and the folder it reads its inputs in. The seeds are the files the
//! project already keeps as examples of right and wrong: the documented example at the
//! repository root, every file under `host/tests/configs/` (a file added there is a seed from
//! then on) and the embedded 577-seat default, the one seed with a `[hemicycle]`.

use std::io;
use std::path::{Path, PathBuf};

use crate::config::EMBEDDED_DEFAULT;

/// One seed: where it came from and its bytes.
#[derive(Clone, Debug)]
pub struct Seed {
    /// Path from the repository root, or `<embedded default>`.
    pub name: String,
    /// The file.
    pub text: Vec<u8>,
}

/// The repository root (the host crate's parent folder).
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The `tests/configs` folder of the host crate.
fn configs_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/configs")
}

/// The `*.toml` files directly in `dir`, sorted (so that a seed's index, and the run, is the
/// same on every machine).
fn toml_files(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<io::Result<_>>()?;
    files.retain(|p| p.extension().is_some_and(|x| x == "toml"));
    files.sort();
    Ok(files)
}

/// Every seed (see the module docs), in a fixed order.
pub fn seeds() -> io::Result<Vec<Seed>> {
    let mut seeds = Vec::new();
    let mut add = |path: PathBuf, name: String| -> io::Result<()> {
        seeds.push(Seed {
            text: std::fs::read(&path)?,
            name,
        });
        Ok(())
    };
    add(
        repo_root().join("hemiwatch.example.toml"),
        "hemiwatch.example.toml".into(),
    )?;
    for sub in ["good", "bad"] {
        for path in toml_files(&configs_dir().join(sub))? {
            let file = path
                .file_name()
                .map(|f| f.to_string_lossy().into_owned())
                .unwrap_or_default();
            add(path, format!("host/tests/configs/{sub}/{file}"))?;
        }
    }
    seeds.push(Seed {
        name: crate::config::EMBEDDED_ORIGIN.into(),
        text: EMBEDDED_DEFAULT.as_bytes().to_vec(),
    });
    Ok(seeds)
}

/// A temporary folder holding a copy of the seeds' key folders (`tests/configs/*/keys`), so that
/// an input's `key_file = "keys/…"` resolves as it does for its seed. Inputs are read as
/// `fuzz.toml` in it; the file paths write them there.
#[derive(Debug)]
pub struct Workdir {
    dir: tempfile::TempDir,
}

impl Workdir {
    /// A fresh folder with the key files copied in.
    pub fn new() -> io::Result<Self> {
        let dir = tempfile::tempdir()?;
        let keys = dir.path().join("keys");
        std::fs::create_dir_all(&keys)?;
        for sub in std::fs::read_dir(configs_dir())? {
            let from = sub?.path().join("keys");
            if !from.is_dir() {
                continue;
            }
            for key in std::fs::read_dir(&from)? {
                let key = key?.path();
                if let Some(name) = key.file_name() {
                    std::fs::copy(&key, keys.join(name))?;
                }
            }
        }
        Ok(Self { dir })
    }

    /// Where inputs are read from.
    pub fn origin(&self) -> PathBuf {
        self.dir.path().join("fuzz.toml")
    }
}
