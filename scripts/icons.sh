#!/usr/bin/env bash
# Renders the hicolor icons the desktop uses (16 to 512 px) from icons/source.svg. Their output
# is committed; run this again after changing the source.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh
ensure_packages librsvg2-bin
mkdir -p icons/hicolor
for size in 16 24 32 48 64 128 256 512; do
  rsvg-convert -w "$size" -h "$size" icons/source.svg -o "icons/hicolor/${size}x${size}.png"
done
say "rendered icons/hicolor/{16..512}"
