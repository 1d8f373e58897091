"""A real MONAI pipeline (CPU): LoadImaged on the NIfTI files of `iw synth lits`,
LabelComponentsd on the whole volume, RandCropByPosNegLabeld, InverseWeightsd per patch, a MONAI
BasicUNet trained for a few iterations with the iw Dice loss: the weights are the paper's and
the loss falls."""
import numpy as np
import pytest
import torch

monai = pytest.importorskip("monai")  # pinned in scripts/requirements.txt: always there under make test
from monai.data import CacheDataset, DataLoader  # noqa: E402
from monai.networks.nets import BasicUNet  # noqa: E402
from monai.transforms import (Compose, EnsureChannelFirstd, Lambdad, LoadImaged,  # noqa: E402
                              RandCropByPosNegLabeld, ScaleIntensityRanged)
from monai.utils import set_determinism  # noqa: E402

import iw_lesions as iw  # noqa: E402
from iw_lesions.monai import InverseWeightsd, LabelComponentsd  # noqa: E402
from iw_lesions.torch import make_loss  # noqa: E402


def numpy_weights(labels):
    lab = labels.astype(np.int64).ravel()
    counts = np.bincount(lab)
    k = np.count_nonzero(counts[1:])
    return np.clip(lab.size / ((k + 1) * counts[lab].astype(np.float64)), 1, 2e5).astype(np.float32).reshape(
        labels.shape)


def pipeline():
    return Compose([
        LoadImaged(keys=["image", "label"]),
        EnsureChannelFirstd(keys=["image", "label"]),
        ScaleIntensityRanged(keys="image", a_min=-100, a_max=250, b_min=0.0, b_max=1.0, clip=True),
        Lambdad(keys="label", func=lambda x: (x == 2).float()),  # tumours
        LabelComponentsd(keys="label", components_key="components"),
        RandCropByPosNegLabeld(keys=["image", "label", "components"], label_key="label",
                               spatial_size=(32, 32, 16), pos=3, neg=1, num_samples=2),
        InverseWeightsd(keys="components", weight_key="weight"),
    ])


def test_transforms_give_the_papers_per_patch_weights(synth_lits):
    set_determinism(0)
    data = [{"image": str(synth_lits / f"volume-{i}.nii"), "label": str(synth_lits / f"segmentation-{i}.nii")}
            for i in range(3)]
    samples = pipeline()(data[0])
    assert len(samples) == 2
    for s in samples:
        comp, w, lab = s["components"], s["weight"], s["label"]
        assert comp.shape == w.shape == lab.shape == (1, 32, 32, 16) and w.dtype == torch.float32
        np.testing.assert_array_equal(w.numpy(), numpy_weights(comp.numpy()))
        np.testing.assert_array_equal((comp.numpy() > 0), lab.numpy() > 0)
    assert max(float(s["weight"].max()) for s in samples) > 1
    # The components were labelled on the whole volume (one label per lesion, as cc3d).
    whole = LabelComponentsd(keys="label")(Lambdad(keys="label", func=lambda x: (x == 2).float())(
        EnsureChannelFirstd(keys="label")(LoadImaged(keys="label")({"label": data[0]["label"]}))))["label"]
    assert whole.dtype == torch.int32 and int(whole.max()) == iw.label(whole.numpy()[0] > 0)[1] > 1


def test_a_basic_unet_learns_with_iw_dice(synth_lits):
    set_determinism(0)
    torch.manual_seed(0)
    data = [{"image": str(synth_lits / f"volume-{i}.nii"), "label": str(synth_lits / f"segmentation-{i}.nii")}
            for i in range(3)]
    # The random crops are drawn once (cached) so that the loss of the same patches is tracked.
    ds = CacheDataset(data, pipeline(), cache_rate=1.0, num_workers=0, progress=False)
    loader = DataLoader(ds, batch_size=3, shuffle=False, num_workers=0)
    net = BasicUNet(spatial_dims=3, in_channels=1, out_channels=1, features=(8, 8, 16, 16, 32, 8))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    loss_fn = make_loss("iwdl")
    losses = []
    for _ in range(16):
        for batch in loader:
            opt.zero_grad()
            out = net(batch["image"])
            loss = loss_fn(out, batch["label"], batch["weight"])
            loss.backward()
            opt.step()
            losses.append(loss.item())
            assert loss_fn.last_weight.max() > 1  # the map of the batch, not ones
    first, last = np.mean(losses[:2]), np.mean(losses[-2:])
    print(f"iw Dice loss: first 2 iterations {first:.3f}, last 2 {last:.3f} ({len(losses)} iterations)")
    assert last < first - 0.1, losses
