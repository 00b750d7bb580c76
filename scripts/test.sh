#!/usr/bin/env bash
# Runs every test: formatting and lints, unit, integration (loopback HTTP to the real emulator,
# the real Secret Service), end-to-end (the real window under Xvfb), the published web SDK
# in headless Chromium against the emulator over HTTPS, and the Debian package as installed
# (built here by scripts/package.sh). Installs and starts what they need. Extra arguments go
# to `cargo test`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_rust
ensure_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
ensure_tauri_driver
ensure_build_tools

say "bundling the published web SDK for its browser test"
(cd tests/web-sdk && npm ci --no-audit --no-fund --loglevel=error && npm run --silent build)

say "checking format and lints"
cargo fmt --all --check
cargo clippy --workspace --all-targets -- -D warnings
# No module cycle in any crate or the app (the checker first proves it finds one).
python3 scripts/check_cycles.py --self-test
python3 scripts/check_cycles.py
for f in ui/*.js; do
  node --input-type=module --check < "$f" || { say "syntax error in $f"; exit 1; }
done

say "building"
cargo build --workspace --all-targets

say "building the Debian package (its installed-package test runs below)"
# package.sh prints an absolute path (in the target directory cargo reports).
COUNTERSIGN_DEB="$(bash scripts/package.sh | tail -n 1)"
export COUNTERSIGN_DEB

# Tests never touch a real keyring or settings store: everything lives in a temp dir, and the
# keyring daemon is a fresh one on a private D-Bus session.
sandbox=$(mktemp -d)
trap 'rm -rf "$sandbox"' EXIT
export XDG_DATA_HOME="$sandbox/data" XDG_CONFIG_HOME="$sandbox/config" \
  XDG_CACHE_HOME="$sandbox/cache" XDG_RUNTIME_DIR="$sandbox/run"
mkdir -p "$XDG_DATA_HOME" "$XDG_CONFIG_HOME" "$XDG_CACHE_HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"

say "running the tests (D-Bus session, unlocked gnome-keyring, Xvfb)"
export COUNTERSIGN_TEST_ARGS="$*"
keyctl session - dbus-run-session -- bash -c '
  set -euo pipefail
  echo -n countersign-test | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  xvfb-run -a -s "-screen 0 1280x900x24" cargo test --workspace $COUNTERSIGN_TEST_ARGS
'
