#!/usr/bin/env bash
# From `countersign approve` to the request painted on screen: the median over N runs
# (default 20) against the real window on a standalone emulator, in one Xvfb and one D-Bus
# session with an unlocked keyring; with the window open, then with it closed to the tray (a
# tray host runs for the bench), where the request builds the window again. Release build:
# the figures are the ones people meet. WebDriver drives the app, so it never starts itself
# again at rest (README, "The tray"): bench-startup.sh times the window of a fresh tray image.
# Usage: scripts/bench-approve.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_rust
ensure_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
ensure_tauri_driver
ensure_build_tools
say "building (release)"
cargo build --release --workspace --bins
target=$(target_dir)
sandbox=$(mktemp -d)
trap 'rm -rf "$sandbox"' EXIT
export XDG_DATA_HOME="$sandbox/data" XDG_CONFIG_HOME="$sandbox/config" \
  XDG_CACHE_HOME="$sandbox/cache"
say "measuring (${1:-20} runs)"
keyctl session - dbus-run-session -- bash -c '
  echo -n bench | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  COUNTERSIGN_E2E_BUILD=release "$1/release/approve-bench" "$0"
' "${1:-20}" "$target"
