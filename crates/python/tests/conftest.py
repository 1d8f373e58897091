"""Shared paths of the iw_lesions tests (run by `make test` with the venv's pytest)."""
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SHARED = os.environ.get("IW_SHARED", os.path.join(os.path.dirname(ROOT), "shared"))
IW_BIN = os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "iw")


@pytest.fixture(scope="session")
def iw_bin():
    """The `iw` binary of this checkout (`make setup` builds it before the tests run)."""
    path = IW_BIN if os.path.exists(IW_BIN) else shutil.which("iw")
    if path is None:
        pytest.fail(f"{IW_BIN}: the iw binary is missing; run `make setup` first")
    return path


@pytest.fixture(scope="session")
def synth_lits(tmp_path_factory, iw_bin):
    """Three small LiTS-format cases written by `iw synth lits` (NIfTI, 0/1 liver/2 tumour)."""
    out = tmp_path_factory.mktemp("lits")
    subprocess.run([iw_bin, "synth", "lits", "--out", str(out), "--cases", "3", "--shape", "64,64,32",
                    "--threads", "1", "--seed", "3"], check=True, capture_output=True)
    return out
