#!/usr/bin/env bash
# The whole Hemiwatch test suite, from a fresh Debian machine: installs what is missing (apt
# packages, Rust targets), then formatting, lints, firmware builds for both boards, the fuzz
# target's build, and every test (unit, property, golden vectors, hardware-in-the-loop in QEMU,
# daemon integration, real Alertmanager, real headless Chromium). Fails if anything fails.
set -euo pipefail
shopt -s nullglob  # no board folder yet must not become a literal glob
cd "$(dirname "$0")/.."
started=$(date +%s)
step() { printf '\n=== %s (t+%ss)\n' "$1" "$(( $(date +%s) - started ))"; }

step "setup"
bash scripts/setup.sh

step "format"
cargo fmt --all -- --check
for board in firmware/boards/*/; do
  (cd "$board" && cargo fmt -- --check)
done

step "lint (host workspace)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "firmware boards: lint and release build"
for board in firmware/boards/*/; do
  (cd "$board" && cargo clippy --release --locked --all-targets -- -D warnings && cargo build --release --locked)
done
# The Black Pill's on-target tests (embedded-test) must build here; they run on a board (README).
(cd firmware/boards/blackpill-f411 && cargo test --release --locked --no-run)

step "firmware size (QEMU board budget: 32 KiB flash, 8 KiB static RAM)"
bash scripts/firmware-size.sh

step "fuzz target builds"
(cd protocol/fuzz && cargo build --locked)

step "tests"
# --no-fail-fast: one failing binary must not hide the state of the others.
cargo test --workspace --locked --no-fail-fast

step "done in $(( $(date +%s) - started ))s"
