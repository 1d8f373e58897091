"""Real nnU-Net v2 (CPU) with nnUNetTrainerIW found through nnUNet_extTrainer: a tiny dataset in
nnU-Net's raw layout from `iw synth lits`, nnUNetv2_plan_and_preprocess, then nnUNetv2_train for
a few iterations; the training log shows that the loss received non-uniform inverse weights."""
import glob
import json
import os
import re
import shutil
import subprocess
import sys

import nibabel as nib
import numpy as np
import pytest

pytest.importorskip("nnunetv2")  # pinned in scripts/requirements.txt: always there under make test

from iw_lesions.nnunet import TRAINER_DIR  # noqa: E402


def _tool(name):
    exe = os.path.join(os.path.dirname(sys.executable), name)
    return exe if os.path.exists(exe) else shutil.which(name)


@pytest.fixture(scope="module")
def small_lits(tmp_path_factory, iw_bin):
    """Three 48 x 48 x 24 cases: nnU-Net plans a small network for them."""
    out = tmp_path_factory.mktemp("lits-small")
    subprocess.run([iw_bin, "synth", "lits", "--out", str(out), "--cases", "3", "--shape", "48,48,24",
                    "--threads", "1", "--seed", "5"], check=True, capture_output=True)
    return out


def test_nnunet_trains_with_inverse_weights(small_lits, tmp_path):
    synth_lits = small_lits
    raw = tmp_path / "raw" / "Dataset501_IWSynth"
    (raw / "imagesTr").mkdir(parents=True)
    (raw / "labelsTr").mkdir()
    for i in range(3):
        img = nib.load(synth_lits / f"volume-{i}.nii")
        seg = nib.load(synth_lits / f"segmentation-{i}.nii")
        tumour = (np.asarray(seg.dataobj) == 2).astype(np.uint8)
        nib.save(nib.Nifti1Image(np.asarray(img.dataobj), img.affine), raw / "imagesTr" / f"case_{i:03d}_0000.nii.gz")
        nib.save(nib.Nifti1Image(tumour, seg.affine), raw / "labelsTr" / f"case_{i:03d}.nii.gz")
    (raw / "dataset.json").write_text(json.dumps({
        "channel_names": {"0": "CT"}, "labels": {"background": 0, "tumour": 1}, "numTraining": 3,
        "file_ending": ".nii.gz"}))
    env = dict(os.environ, nnUNet_raw=str(tmp_path / "raw"), nnUNet_preprocessed=str(tmp_path / "pre"),
               nnUNet_results=str(tmp_path / "results"), nnUNet_extTrainer=TRAINER_DIR,
               nnUNet_compile="false", OMP_NUM_THREADS="2")
    # `python -m iw_lesions.nnunet` prints the folder the README tells users to export.
    out = subprocess.run([sys.executable, "-m", "iw_lesions.nnunet"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == TRAINER_DIR
    plan = subprocess.run([_tool("nnUNetv2_plan_and_preprocess"), "-d", "501", "-c", "3d_fullres", "-np", "1"],
                          env=env, capture_output=True, text=True, timeout=400)
    assert plan.returncode == 0, plan.stdout[-3000:] + plan.stderr[-3000:]
    run = subprocess.run([_tool("nnUNetv2_train"), "501", "3d_fullres", "all", "-tr", "nnUNetTrainerIW_smoke",
                          "-device", "cpu"], env=dict(env, nnUNet_n_proc_DA="0"), capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    logs = glob.glob(str(tmp_path / "results" / "Dataset501_IWSynth" / "nnUNetTrainerIW_smoke__*" / "fold_all" /
                         "training_log_*.txt"))
    assert logs, run.stdout[-2000:]
    text = open(logs[0]).read()
    lines = re.findall(r"iw: (\d+) of (\d+) patches with non-uniform inverse weights, largest weight ([\d.e+]+)", text)
    assert len(lines) == 2, text[-2000:]  # one per epoch
    nonuniform = sum(int(a) for a, _, _ in lines)
    assert nonuniform > 0 and max(float(w) for _, _, w in lines) > 1, lines
    assert glob.glob(str(tmp_path / "results" / "Dataset501_IWSynth" / "nnUNetTrainerIW_smoke__*" / "fold_all" /
                         "checkpoint_final.pth"))
