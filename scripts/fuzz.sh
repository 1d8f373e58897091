#!/usr/bin/env bash
# Runs cargo-fuzz targets one after the other, FUZZ_SECONDS each (default 60) or, with FUZZ_RUNS=N,
# until each has executed N inputs (libFuzzer's -runs; no time limit then), one job, no
# sanitizer (works on the stable toolchain; libFuzzer still catches panics, aborts, OOMs over
# -rss_limit_mb=2048 and timeouts). Arguments: crate:target pairs (default: all nine).
# Corpora grow in crates/<crate>/fuzz/corpus/<target> (ignored by git) from the committed seeds
# in crates/<crate>/fuzz/seeds/<target>; crashes land in crates/<crate>/fuzz/artifacts/<target>.
# The final libFuzzer stats of each target are appended to target/fuzz/summary.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
seconds=${FUZZ_SECONDS:-60}
runs_wanted=${FUZZ_RUNS:-}
if [ -n "$runs_wanted" ]; then
    limit=(-runs="$runs_wanted")
    budget="$runs_wanted runs"
else
    limit=(-max_total_time="$seconds")
    budget="${seconds}s"
fi
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(io:nifti io:nifti_gz io:metaimage io:dicom io:nrrd data:lidc_xml data:case_json metrics:prc_records runner:experiment_yaml)
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "make fuzz needs cargo-fuzz: cargo install cargo-fuzz --version 0.13.2 --locked" >&2
    exit 2
fi
mkdir -p "$root/target/fuzz"
status=0
for t in "${targets[@]}"; do
    crate=${t%%:*}
    target=${t#*:}
    corpus=$root/crates/$crate/fuzz/corpus/$target
    mkdir -p "$corpus" "$root/crates/$crate/fuzz/artifacts/$target"
    log=$root/target/fuzz/$crate-$target.log
    started=$SECONDS
    echo "== $crate/$target: $budget (log: $log)"
    if (cd "$root/crates/$crate" && cargo fuzz run -s none --target-dir "$root/target/fuzz" "$target" \
        "$corpus" "$root/crates/$crate/fuzz/seeds/$target" -- \
        "${limit[@]}" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 \
        -artifact_prefix="$root/crates/$crate/fuzz/artifacts/$target/") >"$log" 2>&1; then
        result=ok
    else
        result="FAILED (see $log and crates/$crate/fuzz/artifacts/$target)"
        status=1
    fi
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    speed=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo '?')
    files=$(find "$corpus" -type f | wc -l)
    line="$(date -u +%FT%TZ) $crate/$target ${budget} wall=$((SECONDS - started))s runs=$runs exec/s=$speed corpus=$files $result"
    echo "$line" | tee -a "$root/target/fuzz/summary.txt"
done
exit $status
