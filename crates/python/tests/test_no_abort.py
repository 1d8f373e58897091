"""The package never takes the interpreter down (issue 29): every function, given a volume whose
result (or working memory) this machine cannot allocate -- a zero-stride view of 100000^3
voxels, numpy's ``as_strided`` of one byte -- raises ``MemoryError`` at once and the interpreter
goes on; NaN or infinite values in any float array are a ``ValueError`` naming the argument (the
CLI's rule). Each huge case runs in a child interpreter, so a regression aborts the child (its
exit status and stderr are in the failure), not pytest."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import iw_lesions as iw

PRELUDE = textwrap.dedent("""
    import json, sys
    import numpy as np
    import iw_lesions as iw
    from numpy.lib.stride_tricks import as_strided

    def huge(dtype, shape=(100000,) * 3, value=0):
        return as_strided(np.full(1, value, dtype), shape, (0,) * len(shape))

    def report(fn):
        try:
            fn()
            out = {"raised": None}
        except BaseException as e:  # PanicException included: the test names what came out
            out = {"raised": type(e).__name__, "message": str(e)}
        # The interpreter is alive and the package still works after the failure.
        lab, n = iw.label(np.ones((3, 4, 5), bool))
        out["alive"] = bool(n == 1 and lab.sum() == 60)
        print(json.dumps(out))
""")

TB15 = "4000000000000000 bytes"  # 10^15 voxels x 4 bytes (uint32 labels, float32 weights)


def run_child(body, timeout=300):
    """Runs PRELUDE + body in a fresh interpreter; returns report()'s dict."""
    p = subprocess.run([sys.executable, "-c", PRELUDE + textwrap.dedent(body)], capture_output=True, text=True,
                       timeout=timeout)
    assert p.returncode == 0, f"the child interpreter died (status {p.returncode}): {p.stderr[-2000:]}"
    return json.loads(p.stdout.strip().splitlines()[-1])


def assert_memory_error(out, *fragments):
    assert out["raised"] == "MemoryError", out
    for f in fragments:
        assert f in out["message"], (f, out["message"])
    assert "\n" not in out["message"] and out["alive"], out


@pytest.mark.parametrize("dtype", ["np.uint8", "np.bool_", "np.int64", "np.float32", "np.float64"])
def test_label_of_a_huge_view_raises(dtype):
    out = run_child(f"report(lambda: iw.label(huge({dtype})))")
    assert_memory_error(out, TB15, "labels of a 100000 x 100000 x 100000 volume")


def test_label_of_a_huge_float16_view_raises():
    # float16 is converted to float32 first: numpy's own MemoryError.
    assert_memory_error(run_child("report(lambda: iw.label(huge(np.float16)))"))


def test_a_size_beyond_the_address_space_is_named_exactly():
    # 2^62 voxels: the labels' 2^64 bytes do not even fit a 64-bit size.
    out = run_child("report(lambda: iw.label(huge(np.uint8, (2**20, 2**20, 2**22))))")
    assert_memory_error(out, f"{2 ** 64} bytes", "1048576 x 1048576 x 4194304")


@pytest.mark.parametrize("call", [
    "iw.inverse_weights(huge(np.uint8))",
    "iw.inverse_weights(huge(np.uint8, value=1), labels=False)",
    "iw.inverse_weights(huge(np.int32, value=7), labels=True)",
    "iw.inverse_weights(huge(np.float32))",
])
def test_inverse_weights_of_a_huge_view_raises(call):
    assert_memory_error(run_child(f"report(lambda: {call})"), TB15, "weights of a 100000 x 100000 x 100000")


@pytest.mark.parametrize("call", [
    "iw.lesion_records(huge(np.uint8), huge(np.float32))",
    "iw.lesion_records(huge(np.float32), huge(np.float32), huge(np.float32))",
    "iw.lesion_records(huge(np.float64), huge(np.float64, value=0.9), spacing=(1, 1, 1))",
    "iw.lesion_records(huge(np.bool_), huge(np.float32, value=0.7))",
])
def test_lesion_records_of_a_huge_view_raises(call):
    assert_memory_error(run_child(f"report(lambda: {call})"), "100000 x 100000 x 100000")


def test_evaluate_with_a_huge_bootstrap_raises():
    out = run_child("report(lambda: iw.evaluate({'a': []}, small_below=5, samples=10**15))")
    assert_memory_error(out, "bootstrap's 1000000000000000 samples")


def _sparse_file(path, size):
    with open(path, "wb") as f:
        f.truncate(size)


def test_report_of_a_huge_records_file_raises(tmp_path):
    """A records file of 1 PiB (sparse: no disk used) cannot be read into memory."""
    size = 2 ** 50
    for base in (tmp_path, "/dev/shm"):
        d = os.path.join(base, f"iw-huge-{os.getpid()}")
        f = os.path.join(d, "lits", "m", "experiment_0", "test_metrics", "prc_records.json")
        os.makedirs(os.path.dirname(f), exist_ok=True)
        try:
            _sparse_file(f, size)
        except OSError:
            continue
        try:
            out = run_child(f"report(lambda: iw.report({d!r}))")
        finally:
            os.remove(f)
        assert_memory_error(out, "prc_records.json")
        return
    pytest.fail("no filesystem here holds a sparse file of 1 PiB (tried the test's tmp folder and /dev/shm)")


def test_torch_and_monai_wrappers_raise():
    """The wrappers above the native functions: a zero-stride torch tensor (``expand``) and a
    channel-first MONAI dictionary. The losses are torch operations: torch's own allocation
    error comes out (a RuntimeError on the CPU), and the interpreter stays."""
    pytest.importorskip("monai")  # pinned in scripts/requirements.txt: always there under make test
    body = """
        import torch
        from iw_lesions.torch import batch_inverse_weights, make_loss
        from iw_lesions.monai import InverseWeightsd, LabelComponentsd
        t = torch.zeros(1, 1, 1, 1, 1).expand(2, 1, 100000, 100000, 100000)
        outs = {}
        for name, fn in [
            ("batch", lambda: batch_inverse_weights(t)),
            ("loss", lambda: make_loss("iwdl")(t, t)),
            ("components", lambda: LabelComponentsd("m")({"m": huge(np.uint8, (1,) + (100000,) * 3)})),
            ("weights", lambda: InverseWeightsd("m")({"m": huge(np.uint8, (1,) + (100000,) * 3)})),
        ]:
            try:
                fn()
                outs[name] = None
            except BaseException as e:
                outs[name] = [type(e).__name__, str(e)[:300]]
        report(lambda: None)
        print(json.dumps(outs))
    """
    p = subprocess.run([sys.executable, "-c", PRELUDE + textwrap.dedent(body)], capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, f"the child interpreter died (status {p.returncode}): {p.stderr[-2000:]}"
    alive, outs = (json.loads(x) for x in p.stdout.strip().splitlines()[-2:])
    assert alive["alive"], (alive, outs)
    assert [outs[k][0] for k in ("batch", "components", "weights")] == ["MemoryError"] * 3, outs
    assert outs["loss"][0] == "RuntimeError" and "allocate" in outs["loss"][1], outs


def test_huge_but_allocatable_views_are_labelled():
    """No spurious refusal: a zero-stride view of 16M voxels (64 MiB of labels) is labelled."""
    from numpy.lib.stride_tricks import as_strided
    ones = as_strided(np.ones(1, np.uint8), (64, 512, 512), (0, 0, 0))
    lab, n = iw.label(ones)
    assert n == 1 and lab.shape == (64, 512, 512) and lab.min() == 1 and lab.max() == 1
    stripes = as_strided(np.array([1, 0] * 128, np.uint8), (16, 256, 256), (0, 1, 0))
    lab, n = iw.label(stripes, connectivity=6)  # rows alternate 1 / 0 along y: 128 slabs
    assert n == 128
    w = iw.inverse_weights(ones[:8], labels=False)
    assert w.shape == (8, 512, 512) and (w == 1).all()
    recs, dice = iw.lesion_records(ones[:4], as_strided(np.full(1, 0.9, np.float32), (4, 512, 512), (0, 0, 0)),
                                   return_dice=True)
    assert dice == 1 and [r["obj"] for r in recs] == ["tum_1", "pred_1"]


# ----- non-finite values: a ValueError naming the argument, for every float array argument -----

def _case():
    gt = np.zeros((6, 7, 8), np.float32)
    gt[1:3, 1:3, 1:3] = 1
    prob = np.where(gt > 0, 0.9, 0.1).astype(np.float32)
    return gt, prob, np.log(prob / (1 - prob))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("arg", ["gt", "prob", "logit"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_lesion_records_rejects_non_finite_values(arg, bad, dtype):
    args = dict(zip(("gt", "prob", "logit"), (a.astype(dtype) for a in _case())))
    args[arg][2, 3, 4] = bad
    args[arg][0, 0, 0] = bad
    with pytest.raises(ValueError) as e:
        iw.lesion_records(**args)
    msg = str(e.value)
    assert msg.startswith(f"{arg}: 2 non-finite (NaN or infinite) value(s)") and "\n" not in msg, msg


def test_lesion_records_rejects_float64_beyond_float32():
    gt, prob, logit = _case()
    logit = logit.astype(np.float64)
    logit[0, 0, 0] = 1e300  # inf as float32, the type the records are computed in
    with pytest.raises(ValueError, match=r"^logit: 1 non-finite"):
        iw.lesion_records(gt, prob, logit)


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_label_and_weights_reject_non_finite_values(dtype):
    m = np.zeros((4, 5, 6), dtype)
    m[1, 1, 1] = np.nan
    m[2, 2, 2] = np.inf
    with pytest.raises(ValueError, match=r"^mask: 2 non-finite \(NaN or infinite\) value\(s\)"):
        iw.label(m)
    for labels in (None, True, False):
        with pytest.raises(ValueError, match=r"^mask_or_labels: 2 non-finite"):
            iw.inverse_weights(m, labels=labels)


def test_finite_float_inputs_still_work():
    gt, prob, logit = _case()
    recs = iw.lesion_records(gt.astype(np.float64), prob, logit)
    assert [r["obj"] for r in recs] == ["tum_1", "pred_1"] and recs[0]["hit_dice"] == 1
    assert iw.label(gt.astype(np.float16))[1] == 1


def test_the_cli_rejects_what_the_package_rejects(tmp_path, iw_bin):
    """The rule is the CLI's: a NaN voxel in a mask is a one-line error there too."""
    nib = pytest.importorskip("nibabel")
    m = np.zeros((4, 5, 6), np.float32)
    m[1, 1, 1] = np.nan
    nib.save(nib.Nifti1Image(m, np.eye(4)), tmp_path / "m.nii.gz")
    p = subprocess.run([iw_bin, "label", str(tmp_path / "m.nii.gz"), str(tmp_path / "l.nii.gz")],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "non-finite" in p.stderr, (p.returncode, p.stderr)
