#!/usr/bin/env bash
# Sizes of the release app (`countersign-app`, the window process) and of the bare Tauri window (bench/bare-window), both
# built with the release profile, and their ratio (the target is 2.5x or less).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_rust
ensure_packages "${BUILD_PACKAGES[@]}"
ensure_build_tools
say "building both release binaries (countersign on its own, as the package builds it)"
cargo build --release --locked -p countersign
cargo build --release --locked -p bare-window
target=$(target_dir)
app=$(stat -c %s "$target/release/countersign-app")
bare=$(stat -c %s "$target/release/bare-window")
python3 - "$app" "$bare" <<'PY'
import sys
app, bare = int(sys.argv[1]), int(sys.argv[2])
print(f"countersign  {app / 1e6:6.2f} MB")
print(f"bare-window  {bare / 1e6:6.2f} MB")
print(f"ratio        {app / bare:6.3f}x (target <= 2.5x)")
PY
