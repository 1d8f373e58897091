export VIRTUAL_ENV=/work/main/.venv PATH=/work/main/.venv/bin:$PATH LIBTORCH_USE_PYTORCH=1 \
  PYTHON_SYS_EXECUTABLE=/work/main/.venv/bin/python IW_PYTHON=/work/main/.venv/bin/python \
  CARGO_TARGET_DIR=/work/wt/grid/target
