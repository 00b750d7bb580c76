#!/usr/bin/env bash
# Builds the Debian package: the release app and the standalone emulator, with Depends derived
# from the libraries the two binaries link, bundled by the Tauri CLI (from npm, which ships its
# prebuilt binary). Prints the package's path on the last line.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_rust
ensure_packages "${BUILD_PACKAGES[@]}" dpkg-dev
ensure_build_tools

say "building the release binaries"
cargo build --release --locked -p prelude-emulator
npx tauri build --ci --no-bundle
# Where cargo put the binaries, which the Tauri CLI also bundles from (CARGO_TARGET_DIR, as CI
# caches set it, or a config's build.target-dir).
target=$(target_dir)

say "deriving Depends from what the binaries link"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/debian"
printf 'Source: countersign\n\nPackage: countersign\nArchitecture: any\n' > "$work/debian/control"
shlibs=$(cd "$work" && dpkg-shlibdeps -O \
  "-e$target/release/countersign" "-e$target/release/countersign-app" \
  "-e$target/release/prelude-emulator" 2>/dev/null)
# Plus the libraries loaded at run time, which no linker sees (tauri.conf.json's own Depends:
# the tray's libayatana-appindicator3).
depends_json=$(printf '%s\n' "${shlibs#shlibs:Depends=}" | python3 -c '
import json, sys
linked = [d.strip() for d in sys.stdin.read().split(",") if d.strip()]
conf = json.load(open("src-tauri/tauri.conf.json"))
loaded = conf["bundle"]["linux"]["deb"].get("depends", [])
print(json.dumps(linked + [d for d in loaded if d not in linked]))')
say "Depends: $depends_json"

say "preparing the changelog and manual pages"
# tauri.conf.json takes these from ../target/packaging, whatever the target directory.
mkdir -p target/packaging
for f in changelog countersign.1 countersign-app.1 prelude-emulator.1; do
  gzip -9 -n -c "packaging/$f" > "target/packaging/$f.gz"
done

say "bundling the .deb"
npx tauri bundle --ci --bundles deb \
  --config "{\"bundle\":{\"linux\":{\"deb\":{\"depends\":$depends_json}}}}"
built=$(ls -t "$target"/release/bundle/deb/Countersign_*.deb | head -n 1)
# Debian names packages in lower case.
deb="$target/release/bundle/deb/$(basename "$built" | sed 's/^Countersign_/countersign_/')"
mv -f "$built" "$deb"
say "built $deb ($(du -h "$deb" | cut -f1))"
echo "$deb"
