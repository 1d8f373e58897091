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

.PHONY: setup build test test-fast check fmt lint bench fuzz reproduce-lits reproduce-luna16 reproduce-mets ablation clean-venv

setup: $(STAMP) build

$(STAMP): scripts/requirements.txt scripts/requirements-nodeps.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r scripts/requirements.txt
	$(PY) -m pip install --quiet --no-deps -r scripts/requirements-nodeps.txt
	@touch $(STAMP)

build: $(STAMP)
	cargo build $(CARGO_FLAGS) --all-targets $(SLOW_TESTS)

lint: $(STAMP)
	cargo fmt --all --check
	cargo clippy $(CARGO_FLAGS) --all-targets $(SLOW_TESTS) -- -D warnings

# Every test: the Python references, libtorch, the CLI end to end.
test: setup lint
	cargo test $(CARGO_FLAGS) $(SLOW_TESTS)
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

# make fuzz [FUZZ_SECONDS=60] [FUZZ_TARGETS='io:nifti data:lidc_xml ...']: the cargo-fuzz targets of
# the readers (NIfTI, NIfTI gz, MetaImage, DICOM, LIDC XML, case.json, prc_records JSON), one after
# the other, FUZZ_SECONDS each; stable toolchain, no sanitizer. Needs
# `cargo install cargo-fuzz --version 0.13.2 --locked`. Results: FUZZING.md, target/fuzz/summary.txt.
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) scripts/fuzz.sh $(FUZZ_TARGETS)

# make reproduce-lits [LITS_DIR=<raw LiTS>] [SCALE=paper|gpu|cpu|smoke] [SEEDS=N]
# Without LITS_DIR: synthetic LiTS-format data at CPU scale (3 seeds) into results/lits; SCALE=gpu: one
# H100/H200 (results/lits-gpu); SCALE=smoke checks the plumbing (work/results-smoke).
SCALE ?=
SEEDS ?=
reproduce-lits: setup
	./target/release/iw reproduce lits $(if $(LITS_DIR),--lits-dir $(LITS_DIR)) $(if $(SCALE),--scale $(SCALE)) $(if $(SEEDS),--seeds $(SEEDS))

# make reproduce-luna16 [LUNA16_DIR=<raw LUNA16 + tcia-lidc-xml>] [SCALE=...] [SEEDS=N]
# Without LUNA16_DIR: synthetic LUNA16-format scans with real LIDC readers' contours, CPU scale.
reproduce-luna16: setup
	./target/release/iw reproduce luna16 $(if $(LUNA16_DIR),--luna16-dir $(LUNA16_DIR)) $(if $(SCALE),--scale $(SCALE)) $(if $(SEEDS),--seeds $(SEEDS))

# make reproduce-mets [METS_DIR=<nnU-Net-layout brain MR, FLAIR channel 0>] [SCALE=...] [SEEDS=N]
# Without METS_DIR: synthetic brain MR with metastases on the MNI152 template, CPU scale.
reproduce-mets: setup
	./target/release/iw reproduce mets $(if $(METS_DIR),--mets-dir $(METS_DIR)) $(if $(SCALE),--scale $(SCALE)) $(if $(SEEDS),--seeds $(SEEDS))

# make ablation EXP=experiments/ablations/<file>.yaml [SET='k=v ...'] [SCALE=cpu|paper]
# One experiment (train, predict, evaluate) and its report in runs-ablation/.
ABLATION_SCALE = $(if $(SCALE),$(SCALE),$(if $(LITS_DIR),paper,cpu))
ablation: setup
	@test -n "$(EXP)" || { echo "usage: make ablation EXP=experiments/ablations/<file>.yaml [SET='k=v ...']"; exit 2; }
	@if [ "$(ABLATION_SCALE)" != paper ] && [ ! -f work/lits-synth-$(ABLATION_SCALE)/prepared/dataset.json ]; then \
		./target/release/iw reproduce lits --scale $(ABLATION_SCALE) --data-only; fi
	./target/release/iw run $(EXP) $(if $(filter paper,$(ABLATION_SCALE)),,--overlay experiments/scales/$(ABLATION_SCALE).yaml) $(foreach s,$(SET),--set $(s)) --out runs-ablation
	./target/release/iw report runs-ablation --out runs-ablation/report

clean-venv:
	rm -rf $(VENV)
