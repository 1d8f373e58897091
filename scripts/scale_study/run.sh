#!/usr/bin/env bash
# The CPU scale study of experiments/SCALE-STUDY.md: the ten LiTS configurations at each candidate
# scale, seeds 0 and 1, on the synthetic CPU data; then both matching rules' tables and the
# convergence rule per run. Resumable (iw grid skips finished runs). Usage:
#   scripts/scale_study/run.sh [SCALE ...]      (default: s900 s1800 s3600 s7200)
#   STUDY=work/scale-study JOBS=2 SEEDS=2 CONFIGS="dl iwdl" scripts/scale_study/run.sh s3600
set -euo pipefail
cd "$(dirname "$0")/../.."
IW=${IW:-./target/release/iw}
PY=${PY:-.venv/bin/python}
STUDY=${STUDY:-work/scale-study}
SEEDS=${SEEDS:-2}
JOBS=${JOBS:-2}
CONFIGS=${CONFIGS:-dl iwdl bce iwbce fl iwfl asl iwasl wce gdl}
scales=("$@")
[ ${#scales[@]} -gt 0 ] || scales=(s900 s1800 s3600 s7200)
# The synthetic CPU data (what `make reproduce-lits` prepares).
"$IW" reproduce lits --data-only
for s in "${scales[@]}"; do
  case "$s" in
    s900) epochs=25 ;; s1800) epochs=50 ;; s3600) epochs=100 ;; s7200) epochs=200 ;;
    *) echo "scale_study: unknown scale $s (s900, s1800, s3600, s7200)" >&2; exit 2 ;;
  esac
  drop=$((epochs * 8 / 10))
  every=$((epochs / 20)); [ "$every" -ge 1 ] || every=1
  files=(); for c in $CONFIGS; do files+=("experiments/lits/$c.yaml"); done
  out="$STUDY/$s"
  start=$(date +%s)
  "$IW" grid "${files[@]}" \
    --overlay experiments/scales/cpu.yaml --seeds "$SEEDS" --jobs "$JOBS" --threads 1 --out "$out/runs" \
    --set training.epochs=$epochs --set "training.lr_milestones=[$drop]" --set training.validate_every=$every
  echo "$s: grid wall $(( $(date +%s) - start )) s" | tee -a "$STUDY/wall.txt"
  mkdir -p "$out/report"
  "$IW" report "$out/runs" --out "$out/report" --match overlap --match iou:0.1 > "$out/report/table.txt"
  "$PY" scripts/scale_study/convergence.py "$out/runs" | tee "$out/convergence.md"
done
