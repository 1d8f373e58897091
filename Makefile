# iw: every target depends on `setup`, so `make test` on a fresh clone installs, builds and tests.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.iw-setup-stamp
# tch links the libtorch of the venv's PyTorch (torch-sys asks the `python` on PATH);
# crates/runner/build.rs adds an rpath to it, so the binaries need no environment.
export VIRTUAL_ENV := $(abspath $(VENV))
export PATH := $(abspath $(VENV))/bin:$(PATH)
export LIBTORCH_USE_PYTORCH := 1
export PYTHON_SYS_EXECUTABLE := $(abspath $(PY))
export IW_PYTHON := $(abspath $(PY))
CARGO_FLAGS := --release --workspace
# The slow tier's tests: the Python references behind the committed fixtures (needs the venv).
SLOW_TESTS := --features iw-core/python-references,iw-metrics/python-references

# (wheel, pytest-python: the iw-lesions Python package, crates/python)
.PHONY: wheel pytest-python
.PHONY: test-data setup build test test-fast check fmt lint bench fuzz reproduce-lits reproduce-luna16 reproduce-mets ablation ablations report-screenshot clean-venv slurm-setup

setup: $(STAMP) build wheel test-data
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium) || echo "chromium: skipped: not installable here (the report's browser test will say 'skipped: no chromium')"

$(STAMP): scripts/requirements.txt scripts/requirements-nodeps.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r scripts/requirements.txt
	$(PY) -m pip install --quiet --no-deps -r scripts/requirements-nodeps.txt
	@touch $(STAMP)

# Real CT and MR scans with lesion labels (pyradiomics 3.1.0's data/, NRRD) for the tests; pinned
# by sha256, git-ignored, fetched once (scripts/fetch_pyradiomics.sh).
test-data:
	scripts/fetch_pyradiomics.sh

build: $(STAMP)
	cargo build $(CARGO_FLAGS) --all-targets $(SLOW_TESTS)

# The Python package iw-lesions (crates/python, import iw_lesions): maturin builds the abi3 wheel,
# pip installs it into the venv; rebuilt when its crate, iw-core or iw-metrics change.
WHEEL_STAMP := $(VENV)/.iw-wheel-stamp
WHEEL_SRC := $(shell find crates/python/src crates/python/python crates/core/src crates/metrics/src -name '*.rs' -o -name '*.py') crates/python/Cargo.toml crates/python/pyproject.toml Cargo.lock
$(WHEEL_STAMP): $(STAMP) $(WHEEL_SRC)
	$(PY) -m maturin build --release --manifest-path crates/python/Cargo.toml -o target/wheels -i $(abspath $(PY))
	$(PY) -m pip install --quiet --force-reinstall --no-deps target/wheels/iw_lesions-*-abi3-*.whl
	@touch $@

wheel: $(WHEEL_STAMP)

# The Python package's tests: cc3d, scipy, numpy, the CLI, the golden losses, MONAI, nnU-Net.
pytest-python: wheel
	$(PY) -m pytest -q crates/python/tests

lint: $(STAMP)
	cargo fmt --all --check
	cargo clippy $(CARGO_FLAGS) --all-targets $(SLOW_TESTS) -- -D warnings

# Debian's SLURM and munge for the SLURM executor's test (crates/runner/tests/slurm_cli.rs starts a
# one-node cluster with scripts/slurm/start.sh). Needs root or sudo; without them the test says
# "skipped: no SLURM".
slurm-setup:
	@command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v sbatch >/dev/null && command -v munged >/dev/null || \
	{ if [ "$$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO=sudo; else \
	  echo "slurm-setup: skipped: not root (apt-get install slurmctld slurmd slurm-client munge)"; exit 0; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq slurmctld slurmd slurm-client munge; }

# Every test: the Python references, libtorch, the CLI end to end, the SLURM executor.
test: setup slurm-setup lint
	cargo test $(CARGO_FLAGS) $(SLOW_TESTS)
	$(MAKE) --no-print-directory pytest-python
	@if ./target/release/iw doctor | grep -q "cuda          available"; then \
		echo "CUDA: the device tests above also ran on cuda:0"; \
	else \
		echo "CUDA tests: skipped: no CUDA (they ran on the CPU only)"; \
	fi

# The developer loop. test-fast: iw-core and iw-metrics against committed fixtures, no torch,
# no Python, seconds (needs ../shared for the paper's records). check: type-check everything.
test-fast:
	cargo test --release -p iw-core -p iw-metrics

check:
	cargo check --workspace --all-targets $(SLOW_TESTS)

fmt:
	cargo fmt --all

bench: setup
	$(PY) scripts/bench/run.py

# make fuzz [FUZZ_SECONDS=60 | FUZZ_RUNS=10000000] [FUZZ_TARGETS='io:nifti data:lidc_xml ...']: the
# cargo-fuzz targets of the parsers (NIfTI, NIfTI gz, MetaImage, DICOM, LIDC XML, case.json,
# prc_records JSON, experiment YAML), one after the other, FUZZ_SECONDS each or until FUZZ_RUNS
# executions each; stable toolchain, no sanitizer. Needs
# `cargo install cargo-fuzz --version 0.13.2 --locked`. Results: FUZZING.md, target/fuzz/summary.txt.
FUZZ_SECONDS ?= 60
FUZZ_RUNS ?=
FUZZ_TARGETS ?=
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_RUNS=$(FUZZ_RUNS) scripts/fuzz.sh $(FUZZ_TARGETS)

# make reproduce-lits [LITS_DIR=<raw LiTS>] [SCALE=paper|gpu|cpu|smoke] [SEEDS=N]
# Without LITS_DIR: synthetic LiTS-format data at CPU scale (2 seeds, 3600 steps a run) into results/lits; SCALE=gpu: one
# H100/H200 (results/lits-gpu); SCALE=smoke checks the plumbing (work/results-smoke).
SCALE ?=
SEEDS ?=
# JOBS=N runs at once, THREADS=T libtorch threads each (iw reproduce --jobs/--threads); ADD=1
# adds this command's runs to the grid already in the runs folder (iw reproduce --add), e.g.
# SEEDS=3 after a two-seed reproduction: the finished runs are kept, the new seeds trained.
GRID_FLAGS = $(if $(JOBS),--jobs $(JOBS)) $(if $(THREADS),--threads $(THREADS)) $(if $(ADD),--add)
reproduce-lits: setup
	./target/release/iw reproduce lits $(if $(LITS_DIR),--lits-dir $(LITS_DIR)) $(if $(SCALE),--scale $(SCALE)) $(if $(SEEDS),--seeds $(SEEDS)) $(GRID_FLAGS)

# make reproduce-luna16 [LUNA16_DIR=<raw LUNA16 + tcia-lidc-xml>] [SCALE=...] [SEEDS=N]
# Without LUNA16_DIR: synthetic LUNA16-format scans with real LIDC readers' contours, CPU scale.
reproduce-luna16: setup
	./target/release/iw reproduce luna16 $(if $(LUNA16_DIR),--luna16-dir $(LUNA16_DIR)) $(if $(SCALE),--scale $(SCALE)) $(if $(SEEDS),--seeds $(SEEDS)) $(GRID_FLAGS)

# make reproduce-mets [METS_DIR=<nnU-Net-layout brain MR, FLAIR channel 0>] [SCALE=...] [SEEDS=N]
# Without METS_DIR: synthetic brain MR with metastases on the MNI152 template, CPU scale.
reproduce-mets: setup
	./target/release/iw reproduce mets $(if $(METS_DIR),--mets-dir $(METS_DIR)) $(if $(SCALE),--scale $(SCALE)) $(if $(SEEDS),--seeds $(SEEDS)) $(GRID_FLAGS)

# make ablation EXP=experiments/ablations/<file>.yaml [SET='k=v ...'] [SCALE=cpu|paper]
# One experiment (train, predict, evaluate) and its report in runs-ablation/.
ABLATION_SCALE = $(if $(SCALE),$(SCALE),$(if $(LITS_DIR),paper,cpu))
ablation: setup
	@test -n "$(EXP)" || { echo "usage: make ablation EXP=experiments/ablations/<file>.yaml [SET='k=v ...']"; exit 2; }
	@if [ "$(ABLATION_SCALE)" != paper ] && [ ! -f work/lits-synth-$(ABLATION_SCALE)/prepared/dataset.json ]; then \
		./target/release/iw reproduce lits --scale $(ABLATION_SCALE) --data-only; fi
	./target/release/iw run $(EXP) $(if $(filter paper,$(ABLATION_SCALE)),,--overlay experiments/scales/$(ABLATION_SCALE).yaml) $(foreach s,$(SET),--set $(s)) --out runs-ablation
	./target/release/iw report runs-ablation --out runs-ablation/report --html

# make ablations: every ablation of experiments/ablations at the CPU scale, one seed, into
# results/ablations (README.md: one table under both matching rules, each ablation beside its base
# configuration's seed-0 run from `make reproduce-lits`). Resumable; WORK=, OUT=, SEEDS=, JOBS=.
ablations: setup
	scripts/ablations/run.sh

# make report-screenshot [REPORT=results/lits/report.html]: screenshots beside it (headless Chromium):
# the top of the page and the start of the lesion gallery.
REPORT ?= results/lits/report.html
report-screenshot:
	scripts/report/screenshot_report.sh $(REPORT) $(dir $(REPORT))report.png
	scripts/report/crop_screenshot.sh $(REPORT) $(dir $(REPORT))report-gallery.png 6010 7210

clean-venv:
	rm -rf $(VENV)
