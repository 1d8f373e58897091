"""MONAI dictionary transforms for inverse weighting (channel-first ``[C, D, H, W]``).

The paper labels the lesions of the whole volume once and computes the weights per training
patch, after the crop, from the component labels the patch holds (labels not renumbered)::

    from monai.transforms import Compose, LoadImaged, EnsureChannelFirstd, RandCropByPosNegLabeld
    from iw_lesions.monai import LabelComponentsd, InverseWeightsd
    from iw_lesions.torch import make_loss

    train = Compose([
        LoadImaged(keys=["image", "label"]), EnsureChannelFirstd(keys=["image", "label"]),
        LabelComponentsd(keys="label", components_key="components"),        # whole volume
        RandCropByPosNegLabeld(keys=["image", "label", "components"], label_key="label",
                               spatial_size=(64, 64, 64), num_samples=4),
        InverseWeightsd(keys="components", weight_key="weight"),             # per patch
    ])
    loss = make_loss("iwdl")          # then: loss(net(batch["image"]), batch["label"], batch["weight"])
"""
import numpy as np
import torch
from monai.config import KeysCollection
from monai.transforms import MapTransform
from monai.utils import convert_to_dst_type

from . import inverse_weights, label

__all__ = ["LabelComponentsd", "InverseWeightsd"]


def _per_channel(x, fn):
    a = _array_keep(x)
    if a.ndim == 3:
        return fn(a)
    if a.ndim != 4:
        raise ValueError(f"expected a channel-first [C, D, H, W] array, got shape {list(a.shape)}")
    return np.stack([fn(a[c]) for c in range(a.shape[0])])


def _array_keep(x):
    """numpy view of a tensor / MetaTensor / array, keeping every axis."""
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu()
        return x.numpy() if x.dtype != torch.bool else x.to(torch.uint8).numpy()
    a = np.asarray(x)
    return a.view(np.uint8) if a.dtype == np.bool_ else a


class LabelComponentsd(MapTransform):
    """Connected components of each channel of ``keys`` (non-zero = foreground), as int32
    labels ``1..K`` in ``components_key`` (default: replace the key). Run it on the whole volume,
    before cropping, so that a lesion cut by a patch keeps one label."""

    def __init__(self, keys: KeysCollection, components_key=None, connectivity=26, allow_missing_keys=False):
        super().__init__(keys, allow_missing_keys)
        self.components_key = components_key
        self.connectivity = connectivity

    def __call__(self, data):
        d = dict(data)
        keys = list(self.key_iterator(d))
        if self.components_key is not None and len(keys) > 1:
            raise ValueError("LabelComponentsd: components_key needs exactly one key")
        for key in keys:
            def one(a):
                lab, n = label(a, self.connectivity)
                if n >= 2 ** 31:
                    raise ValueError(f"{key}: {n} components do not fit int32 labels")
                return lab.astype(np.int32, copy=False)
            out = _per_channel(d[key], one)
            d[self.components_key or key] = convert_to_dst_type(out, d[key], dtype=torch.int32)[0] \
                if isinstance(d[key], torch.Tensor) else out
        return d


class InverseWeightsd(MapTransform):
    """Inverse-size weights ``w = N / ((K + 1) |c|)``, clipped to ``[w_min, w_max]``, of each
    channel of ``keys``, as float32 in ``weight_key``. A label map (``LabelComponentsd``'s output,
    cropped) is used as it is; a 0/1 mask is labelled in the patch first (``labels``: force
    either reading, as :func:`iw_lesions.inverse_weights`). Run it after the crop."""

    def __init__(self, keys: KeysCollection, weight_key="weight", w_min=1.0, w_max=2e5, connectivity=26,
                 labels=None, allow_missing_keys=False):
        super().__init__(keys, allow_missing_keys)
        self.weight_key = weight_key
        self.w_min, self.w_max, self.connectivity, self.labels = w_min, w_max, connectivity, labels

    def __call__(self, data):
        d = dict(data)
        keys = list(self.key_iterator(d))
        if len(keys) > 1:
            raise ValueError("InverseWeightsd: one key per transform (its weights go to weight_key)")
        for key in keys:
            out = _per_channel(d[key], lambda a: inverse_weights(a, self.w_min, self.w_max, self.connectivity,
                                                                 self.labels))
            d[self.weight_key] = convert_to_dst_type(out, d[key], dtype=torch.float32)[0] \
                if isinstance(d[key], torch.Tensor) else out
        return d
