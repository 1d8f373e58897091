"""iw_lesions: inverse-size loss weighting and lesion-wise evaluation (Shirokikh et al.,
"Universal Loss Reweighting to Balance Lesion Size Inequality in 3D Medical Image
Segmentation", MICCAI 2020) for Python, on iw's Rust core.

Arrays are numpy arrays (torch tensors and MONAI MetaTensors are converted with
``numpy.asarray``, which shares memory for CPU tensors), 3D, in any axis order: the maths does
not care which axis is which. The work runs with the GIL released. Bad input raises
``ValueError`` with the same one-line message as the ``iw`` command line (NaN or infinite values
in a float array included, naming the argument); an input whose result (or working memory) the
machine cannot allocate raises ``MemoryError`` at once, before a pass over its voxels: no call
takes the interpreter down.

* :func:`label` -- connected components, ``(labels uint32, n)``; equals ``scipy.ndimage.label``
  / ``cc3d.connected_components``.
* :func:`inverse_weights` -- ``w(v) = N / ((K + 1) |c(v)|)`` clipped to ``[w_min, w_max]``,
  float32; equals ``iw weights``.
* :func:`lesion_records` -- the paper's per-lesion records of one case.
* :func:`evaluate` / :func:`report` -- the paper's table: FROC, average recall over 0..5 FP,
  CPM, object Dice, the bootstrap; equal to ``iw report``. ``match="overlap"`` is the paper's
  any-overlap rule, ``match="iou:0.1"`` matches one to one at IoU >= 0.1; a list of rules gives
  both side by side.

Submodules: ``iw_lesions.torch`` (the paper's losses as ``torch.nn.Module``),
``iw_lesions.monai`` (``LabelComponentsd``, ``InverseWeightsd``), ``iw_lesions.nnunet``
(``nnUNetTrainerIW`` and friends, for ``nnUNet_extTrainer``).
"""
import json as _json

import numpy as _np

from . import _native

__version__ = _native.__version__

__all__ = ["label", "inverse_weights", "lesion_records", "evaluate", "report", "RECORD_KEYS"]

#: The keys of one record in the paper's ``prc_records.json`` schema.
RECORD_KEYS = ("obj", "is_tum", "diameter", "hit_dice", "hit_max", "hit_median", "hit_q95", "hit_logit",
               "hit_stat", "hit_obj", "self_stat", "self_logit")
#: iw's additions to a record (the component's size, voxel volume and overlaps), which the
#: one-to-one matching rule needs; absent from the paper's files.
EXTENT_KEYS = ("voxels", "voxel_mm3", "overlaps")


def _array(x, name):
    """numpy view of ``x`` (bool viewed as uint8, no copy; float16 converted to float32, exact);
    a 4D/5D array with leading singleton axes (a channel, a batch of one) is squeezed to 3D."""
    if hasattr(x, "detach"):  # torch.Tensor / MetaTensor
        x = x.detach()
        if getattr(x, "is_cuda", False):
            x = x.cpu()
    a = _np.asarray(x)
    while a.ndim > 3 and a.shape[0] == 1:
        a = a[0]
    if a.dtype == _np.bool_:
        a = a.view(_np.uint8)
    elif a.dtype == _np.float16:
        a = a.astype(_np.float32)  # numpy raises MemoryError when the copy cannot be allocated
    return a


def label(mask, connectivity=26):
    """Connected components of the non-zero voxels of a 3D ``mask``.

    Returns ``(labels, n)``: ``labels`` uint32 of the mask's shape, 0 for background and
    ``1..n`` numbered in the order of each component's first voxel in C order (the numbering
    of ``scipy.ndimage.label``). ``connectivity``: 6 (faces), 18 (and edges) or 26 (and corners,
    the paper's).
    """
    return _native.label(_array(mask, "mask"), connectivity)


def inverse_weights(mask_or_labels, w_min=1.0, w_max=2e5, connectivity=26, labels=None):
    """Inverse-size voxel weights of a 3D patch, float32 of the same shape.

    With N voxels and K components present (0 = background)::

        w(v) = N / ((K + 1) * |c(v)|),  clipped to [w_min, w_max]

    so every component, background included, carries total weight N / (K + 1) before clipping.
    A mask (values 0/1, or bool) is labelled with ``connectivity`` first: the result equals
    ``iw weights``. Any other integer array is read as component labels and used as it is --
    the paper's per-patch weights of a crop of a whole-volume labelling (labels are not
    renumbered; K counts the labels present). ``labels=True`` / ``False`` forces either reading.
    """
    return _native.inverse_weights(_array(mask_or_labels, "mask_or_labels"), w_min, w_max, connectivity, labels)


def lesion_records(gt, prob, logit=None, spacing=None, return_dice=False):
    """The paper's per-lesion records of one case (METHOD.md, "Evaluation").

    ``gt > 0.5`` and ``prob > 0.5`` are labelled with 26-connectivity; each ground-truth
    component gives a record ``tum_<k>`` and each predicted component a record ``pred_<k>``
    (hit Dice, the hit's max / median / 95th percentile probability and max logit, its own max
    probability and logit). ``logit`` defaults to ``log(p / (1 - p))``. ``spacing`` (mm, in the
    arrays' axis order) adds ``diameter_mm`` and ``voxel_mm3`` to each record; ``diameter`` stays
    in voxels, as the paper's size strata use it. Each record also carries ``voxels`` and
    ``overlaps`` (``{"pred_3": 120}``: voxels shared with each component of the other side), which
    the one-to-one rule of :func:`evaluate` needs. Returns the list of record dicts, and the voxel Dice too with
    ``return_dice=True``.
    """
    logit = None if logit is None else _array(logit, "logit")
    spacing = None if spacing is None else [float(s) for s in spacing]
    recs, dice = _native.lesion_records(_array(gt, "gt"), _array(prob, "prob"), logit, spacing)
    return (recs, dice) if return_dice else recs


def _records_json(records_by_case):
    if not isinstance(records_by_case, dict):
        raise ValueError(f"records_by_case: expected a dict of case id -> list of records, got "
                         f"{type(records_by_case).__name__}")
    clean = {}
    for case, recs in records_by_case.items():
        try:
            clean[str(case)] = [{k: r[k] for k in RECORD_KEYS + EXTENT_KEYS if k in r} for r in recs]
        except (TypeError, KeyError) as e:
            raise ValueError(f"records_by_case: case {case}: expected a list of record dicts ({e})") from None
    return _json.dumps(clean, default=_json_default)


def _json_default(x):
    if isinstance(x, _np.bool_):
        return bool(x)
    if isinstance(x, (_np.integer, _np.floating)):
        return x.item()
    raise TypeError(f"records_by_case: {type(x).__name__} is not a record value")


def evaluate(records_by_case, small_below=None, dataset="", bootstrap="paper", samples=50, fraction=0.8, seed=42,
             match="overlap"):
    """The paper's evaluation of one method from its records (``{case_id: [record, ...]}``, as
    :func:`lesion_records` gives or ``json.load`` of a ``prc_records.json``).

    Returns a dict: ``cases``, ``lesions``, ``object_dice_mean/std``, ``avg_recall_mean/std``
    (FP 0..5) and ``cpm_mean/std`` over the bootstrap (``samples`` draws of ``fraction`` of the
    cases, numpy's ``RandomState(seed)``, the paper's 50 / 0.8 / 42), the same for the
    ``small_*`` and ``large_*`` strata (diameter below / at least ``small_below`` voxels;
    default by ``dataset``: lits 12, luna 8, met 5), ``froc`` (thresholds, recall and avgFP of
    all cases, no bootstrap) and each stratum's bootstrap mean FROC ``curve``. ``bootstrap``:
    ``"paper"`` (its quirks, the published numbers) or ``"corrected"``. ``operating`` holds the
    numbers at the operating points (recall at p > 0.5 and at 1 FP per case, FP per case, object
    Dice per stratum; ``largest_over_true``, the largest predicted component over the case's true
    volume; ``fp_mm3_per_case``, with records made with ``spacing``).

    ``match``: ``"overlap"`` (the paper's rule: a lesion is found by any component touching it)
    or ``"iou:<t>"`` (one to one at IoU >= t, greedy by IoU; every unmatched component is a false
    positive; needs the records' ``voxels`` and ``overlaps``). A list or tuple of rules returns
    ``{rule: result}`` with each rule's result.
    """
    text_records = _records_json(records_by_case)
    if isinstance(match, (list, tuple)):
        return {str(m): _evaluate_one(text_records, dataset, small_below, bootstrap, samples, fraction, seed, m)
                for m in match}
    return _evaluate_one(text_records, dataset, small_below, bootstrap, samples, fraction, seed, match)


def _evaluate_one(text_records, dataset, small_below, bootstrap, samples, fraction, seed, match):
    text = _native.evaluate_json(text_records, dataset, small_below, bootstrap, (samples, float(fraction), seed),
                                 str(match))
    return _json.loads(text)


def report(dir, small_below=None, bootstrap="paper", match="overlap"):
    """``iw report DIR --json``: one dict per ``<dataset>/<method>`` under ``dir`` (the paper's
    layout, ``<dataset>/<method>/experiment_*/test_metrics/prc_records.json``); ``match`` as in
    :func:`evaluate` (one rule)."""
    return _json.loads(_native.report(str(dir), small_below, bootstrap, str(match)))
