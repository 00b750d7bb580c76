# Shared by run.sh and test.sh: install what is missing, and say what is being installed.
# shellcheck shell=bash

# libayatana-appindicator3-1: the tray icon's library, which the app loads at run time.
BUILD_PACKAGES=(libwebkit2gtk-4.1-dev build-essential pkg-config libssl-dev file curl
  libayatana-appindicator3-1)
TEST_PACKAGES=(webkit2gtk-driver xvfb xauth keyutils gnome-keyring dbus chromium chromium-driver
  dpkg-dev lintian desktop-file-utils appstream xdotool)
TAURI_DRIVER_VERSION=2.1.0

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

ensure_packages() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then
    return 0
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    say "missing system packages: ${missing[*]} (no apt-get here: install them by hand)"
    return 1
  fi
  say "installing system packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

ensure_rust() {
  if ! command -v cargo >/dev/null 2>&1; then
    say "cargo is not on the PATH: install the Rust toolchain (rustup) first"
    return 1
  fi
}

# Cargo's target directory as cargo itself resolves it (CARGO_TARGET_DIR, build.target-dir in a
# config file, or ./target), so scripts find the binaries wherever the build put them.
target_dir() {
  cargo metadata --format-version 1 --no-deps |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])'
}

ensure_node() {
  if ! command -v npm >/dev/null 2>&1; then
    ensure_packages nodejs npm
  fi
}

# The build's npm tools (package.json): esbuild, which src-tauri/build.rs runs to bundle ui/ into
# the page the app embeds, and the Tauri CLI that packages it. `npm ci` runs again only when
# package-lock.json changed since the last one.
ensure_build_tools() {
  ensure_node
  if [ ! -x node_modules/.bin/esbuild ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
    say "installing the build's npm tools (esbuild, the Tauri CLI)"
    npm ci --no-audit --no-fund --loglevel=error
  fi
}

ensure_tauri_driver() {
  if cargo install --list 2>/dev/null | grep -q "^tauri-driver v${TAURI_DRIVER_VERSION}:"; then
    return 0
  fi
  say "installing tauri-driver ${TAURI_DRIVER_VERSION}"
  cargo install tauri-driver --version "${TAURI_DRIVER_VERSION}" --locked
}
