#!/usr/bin/env bash
# The ablations of experiments/ablations (w_max, connectivity, lesion sampling, blob, CC, focal
# alpha) at the CPU scale (experiments/scales/cpu.yaml), one seed, on the synthetic LiTS data:
# the grid, then results/ablations: both matching rules' tables (`iw report`), report.html and
# README.md with one summary table (scripts/ablations/summary.py), each ablation beside the
# seed-0 run of its base configuration from `make reproduce-lits` (work/runs-cpu). Resumable
# (iw grid skips finished runs). `make ablations` runs it. Usage:
#   scripts/ablations/run.sh                 WORK=work/ablations OUT=results/ablations SEEDS=1 JOBS=2
set -euo pipefail
cd "$(dirname "$0")/../.."
IW=${IW:-./target/release/iw}
PY=${PY:-.venv/bin/python}
WORK=${WORK:-work/ablations}
OUT=${OUT:-results/ablations}
SEEDS=${SEEDS:-1}
JOBS=${JOBS:-2}
"$IW" reproduce lits --data-only
# Every file but those of the paper's value (their run is the base configuration's own run).
mapfile -t files < <("$PY" scripts/ablations/summary.py --grid-files)
[ ${#files[@]} -gt 0 ] || { echo "ablations: no experiment files (scripts/ablations/summary.py --grid-files)" >&2; exit 2; }
[ -d work/runs-cpu/lits ] || echo "ablations: work/runs-cpu/lits not found: the table will lack its base rows (make reproduce-lits writes them)" >&2
start=$(date +%s)
"$IW" grid "${files[@]}" --overlay experiments/scales/cpu.yaml --seeds "$SEEDS" \
  --jobs "$JOBS" --threads 1 --out "$WORK/runs"
echo "ablations: grid wall $(( $(date +%s) - start )) s"
tmp="$OUT.tmp.$$"
rm -rf "$tmp"
mkdir -p "$tmp"
"$IW" report "$WORK/runs" --out "$tmp" --match overlap --match iou:0.1 --html --html-max-bytes 2000000 > /dev/null
"$PY" scripts/ablations/summary.py "$WORK/runs" > "$tmp/README.md"
rm -rf "$OUT"
mv "$tmp" "$OUT"
echo "ablations: wrote $OUT"
