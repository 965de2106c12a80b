//! The QEMU board's firmware: where its crate lives and its release ELF, built on demand with
//! the board's own lock file and target folder (the board is not a workspace member).

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// The board's folder.
pub fn board_dir() -> PathBuf {
    crate::harness::workspace_root().join("firmware/boards/qemu-lm3s6965")
}

/// The release ELF of the QEMU board with the rig's `fault-injection` feature, built once per test
/// process with the board's own lock file into `target/hil` (a no-op when it is up to date: cargo
/// decides what is stale).
pub fn firmware_elf() -> anyhow::Result<PathBuf> {
    static ELF: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    ELF.get_or_init(|| {
        let dir = board_dir();
        let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            // The rig's build has the `fault-injection` feature (an `Identify` with a magic
            // duration panics or stalls the seat, see the board's `src/fault.rs`); it gets a
            // target folder of its own so it never overwrites the production-feature ELF.
            .args([
                "build",
                "--release",
                "--locked",
                "--quiet",
                "--features",
                "fault-injection",
            ])
            .args(["--target-dir", "target/hil"])
            .current_dir(&dir)
            // The outer `cargo test` environment must not redirect or re-flag the board build.
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("CARGO_BUILD_TARGET_DIR")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env_remove("CARGO_MAKEFLAGS")
            .output()
            .map_err(|e| format!("cargo build in {}: {e}", dir.display()))?;
        if !out.status.success() {
            return Err(format!(
                "building the QEMU board firmware failed:\n{}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(dir.join("target/hil/thumbv7m-none-eabi/release/hemiwatch-board-qemu"))
    })
    .clone()
    .map_err(anyhow::Error::msg)
}
