#!/usr/bin/env bash
# A band of a report.html rendered tall in headless Chromium: rows Y0..Y1 of a 1400 x 16000 px
# page (the lesion gallery of results/lits/report.html starts near y = 6010; headless Chromium
# ignores a #fragment in --screenshot, so the band is cut from the tall page with Pillow).
# usage: scripts/report/crop_screenshot.sh REPORT.html OUT.png Y0 Y1
set -euo pipefail
if [ $# -ne 4 ]; then echo "usage: $0 REPORT.html OUT.png Y0 Y1" >&2; exit 2; fi
here=$(dirname "$0"); tall=$(mktemp --suffix=.png); trap 'rm -f "$tall"' EXIT
"$here/screenshot_report.sh" "$1" "$tall" 1400,16000 >/dev/null
"${PY:-.venv/bin/python}" -c "import sys; from PIL import Image; Image.open(sys.argv[1]).crop((0, int(sys.argv[3]), 1400, int(sys.argv[4]))).save(sys.argv[2], optimize=True)" "$tall" "$2" "$3" "$4"
echo "wrote $2"
