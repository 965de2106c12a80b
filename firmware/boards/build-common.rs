// The build script of every seat board: each board's `build.rs` is `include!` of this file (a
// board crate is its own workspace, so a shared build-dependency crate would be one more crate to
// keep). It puts the board's `memory.x` where the linker finds it and links with cortex-m-rt's
// and defmt's scripts.

use std::{env, fs, path::PathBuf};

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let board = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    fs::copy(board.join("memory.x"), out.join("memory.x")).expect("copy memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed=memory.x");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../build-common.rs");
    println!("cargo:rustc-link-arg=--nmagic");
    println!("cargo:rustc-link-arg=-Tlink.x");
    println!("cargo:rustc-link-arg=-Tdefmt.x");
    // On-target test binaries (`tests/*.rs`, embedded-test: the Black Pill) keep their test table
    // with its script; cargo refuses the instruction from a board without test targets.
    if board.join("tests").is_dir() {
        println!("cargo:rustc-link-arg-tests=-Tembedded-test.x");
        println!("cargo:rustc-check-cfg=cfg(rust_analyzer)");
    }
}
