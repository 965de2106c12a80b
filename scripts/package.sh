#!/usr/bin/env bash
# Builds the Debian package a server room installs: target/debian/hemiwatch_<version>_<arch>.deb
# (release binary, hardened systemd unit, /etc/hemiwatch/hemiwatch.toml as a conffile, man pages,
# shell completions, the udev and Prometheus examples). Regenerates the man pages and completions
# first so the package documents the binary it carries.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release --locked -p hemiwatch
target/release/hemiwatch docs --out contrib
cargo deb -p hemiwatch --no-build --locked "$@"
