#!/usr/bin/env bash
# Screenshot of a report.html in headless Chromium (Debian's `chromium`, installed by `make setup`).
# usage: scripts/report/screenshot_report.sh REPORT.html OUT.png [WIDTH,HEIGHT]   (default 1400,3000)
set -euo pipefail
if [ $# -lt 2 ]; then echo "usage: $0 REPORT.html OUT.png [WIDTH,HEIGHT]" >&2; exit 2; fi
html=$(realpath "$1"); out=$(realpath -m "$2"); size=${3:-1400,3000}
[ -f "$html" ] || { echo "$1: no such file" >&2; exit 2; }
command -v chromium >/dev/null || { echo "skipped: no chromium (apt-get install chromium)" >&2; exit 3; }
profile=$(mktemp -d); trap 'rm -rf "$profile"' EXIT
tmp="$out.tmp.png"
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking \
  --disable-component-update --disable-sync --hide-scrollbars --user-data-dir="$profile" \
  --window-size="$size" --virtual-time-budget=5000 --screenshot="$tmp" "file://$html" 2>/dev/null
mv "$tmp" "$out"
echo "wrote $out"
