#!/usr/bin/env bash
# Installs what Countersign needs to build, builds it, and starts it. With no server chosen
# (--endpoint, --app-id, COUNTERSIGN_ENDPOINT, COUNTERSIGN_APP_ID or a saved setting) the app
# runs on its embedded Prelude emulator. Arguments are passed to the app.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_rust
ensure_packages "${BUILD_PACKAGES[@]}"
ensure_build_tools
say "building"
cargo build --workspace
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  say "no display: set DISPLAY, or run it in a virtual one: xvfb-run -a scripts/run.sh"
  exit 1
fi
say "starting Countersign"
exec "$(target_dir)/debug/countersign" "$@"
