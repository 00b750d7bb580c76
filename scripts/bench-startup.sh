#!/usr/bin/env bash
# Startup time and idle memory of Countersign against a bare Tauri window with the same tauri
# version, drawn on the CPU as Countersign draws without a GPU (the ratio's base) and with
# WebKit's GL defaults: release builds, 30 runs each by default, interleaved, in one Xvfb and
# one D-Bus session; medians, spread and where the time goes;
# then the memory of the process tree (RSS/PSS/USS) with the window open, closed to the tray,
# and started in the tray.
# Usage: scripts/bench-startup.sh [RUNS]
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_rust
ensure_packages "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}" python3
ensure_build_tools
say "building release binaries"
cargo build --release --workspace --bins
target=$(target_dir)
runs="${1:-30}"
sandbox=$(mktemp -d)
trap 'rm -rf "$sandbox"' EXIT
export XDG_DATA_HOME="$sandbox/data" XDG_CONFIG_HOME="$sandbox/config" XDG_CACHE_HOME="$sandbox/cache"
say "measuring ($runs runs each)"
keyctl session - dbus-run-session -- bash -c '
  echo -n bench | gnome-keyring-daemon --unlock --components=secrets >/dev/null
  xvfb-run -a -s "-screen 0 1280x900x24" python3 scripts/bench_startup.py "$0" "$1/release/countersign" "$1/release/bare-window"
  # Beside the open window: the tray-only memory, with the window closed and started in the tray.
  xvfb-run -a -s "-screen 0 1280x900x24" python3 scripts/bench_tray_memory.py 3 "$1/release/countersign" \
    "$1/release/tray-host" "$1/release/close-window"
' "$runs" "$target"
