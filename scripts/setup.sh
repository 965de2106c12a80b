#!/usr/bin/env bash
# Installs what Hemiwatch's build, demo and tests need on a fresh Debian machine, only when missing.
# Idempotent: a second run costs a few `command -v` checks.
set -euo pipefail

need_apt=()
command -v qemu-system-arm >/dev/null 2>&1 || need_apt+=(qemu-system-arm)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v chromedriver >/dev/null 2>&1 || need_apt+=(chromium-driver)
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)
command -v prometheus-alertmanager >/dev/null 2>&1 || need_apt+=(prometheus-alertmanager)
command -v socat >/dev/null 2>&1 || need_apt+=(socat)
command -v sqlite3 >/dev/null 2>&1 || need_apt+=(sqlite3)
# The package test: `systemd-analyze verify` on the unit, `man -w` on the installed pages.
command -v systemd-analyze >/dev/null 2>&1 || need_apt+=(systemd)
command -v man >/dev/null 2>&1 || need_apt+=(man-db)
command -v adduser >/dev/null 2>&1 || need_apt+=(adduser)
# libfaketime: the clock-step test runs the daemon with a wall clock it steps (tests/tests/clock.rs).
command -v faketime >/dev/null 2>&1 || need_apt+=(faketime)

if [ ${#need_apt[@]} -gt 0 ]; then
  echo "setup: installing ${need_apt[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

installed_targets=$(rustup target list --installed)
for t in thumbv7m-none-eabi thumbv7em-none-eabihf; do
  grep -qx "$t" <<<"$installed_targets" || rustup target add "$t"
done
# The Debian package (scripts/package.sh, tests/tests/server_room.rs); pinned: a newer cargo-deb
# refuses the dev profile the test packages.
command -v cargo-deb >/dev/null 2>&1 || cargo install cargo-deb --version 3.8.0 --locked
# The seat boards link with flip-link (stack overflow protection; see their .cargo/config.toml).
command -v flip-link >/dev/null 2>&1 || cargo install flip-link --locked
rustup component list --installed | grep -q '^llvm-tools' || rustup component add llvm-tools >/dev/null 2>&1 || true
