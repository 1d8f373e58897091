"""Golden values and gradients for iw-losses, written independently from the Rust code: each
loss is METHOD.md's formula in PyTorch's own words (float64), see the comments.

Usage: python losses_reference.py OUT.safetensors
       python losses_reference.py --check losses.safetensors
Writes, for each case c and configuration n: c/inputs (logits, target, labels, regions) and
c/n/value, c/n/grad (d value / d logits). The committed losses.safetensors beside this script is
its output, read by the Rust test (golden_and_gradients.rs) and the Python package's tests;
--check regenerates it in memory and exits 1 if the committed file no longer matches.
"""
import sys

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import save_file

EPS = 1e-10


def iw_weights(labels, w_min=1.0, w_max=2e5):
    """Per sample: w = N / ((K + 1) |c|), numpy bincount, clipped."""
    out = np.zeros(labels.shape, np.float32)
    for b in range(labels.shape[0]):
        lab = labels[b].numpy().astype(np.int64).ravel()
        counts = np.bincount(lab)
        k = np.count_nonzero(counts[1:])
        w = labels[b].numel() / ((k + 1) * counts[lab].astype(np.float64))
        out[b] = np.clip(w, w_min, w_max).astype(np.float32).reshape(labels[b].shape)
    return torch.from_numpy(out).double()


def bce(x, t, w):
    # -[t log p + (1 - t) log(1 - p)], mean over voxels
    p_log, q_log = F.logsigmoid(x), F.logsigmoid(-x)
    return (w * -(t * p_log + (1 - t) * q_log)).mean()


def wce(x, t, w):
    # deep_pipe's weighted_cross_entropy_with_logits(logit, target, weight, adaptive=True)
    # (dpipe/torch/functional.py, the authors' WCE), ported line by line: pos_weight over the
    # whole batch, with its gradient.
    pos_weight = (x.numel() - (torch.sigmoid(x)).sum()) / (torch.sigmoid(x)).sum()
    max_val = - x.clamp(min=0)
    loss = - pos_weight * t * (x + max_val - (max_val.exp() + (x + max_val).exp()).log()) \
        + (1 - t) * (-max_val + (max_val.exp() + (x + max_val).exp()).log())
    return (loss * w).mean()


def focal(x, t, w, gamma=2.0, alpha=0.75):
    p = torch.sigmoid(x)
    p_t = torch.where(t > 0.5, p, 1 - p)
    log_p_t = torch.where(t > 0.5, F.logsigmoid(x), F.logsigmoid(-x))
    one_minus = torch.where(t > 0.5, torch.sigmoid(-x), torch.sigmoid(x))  # 1 - p_t, stably
    alpha_t = torch.where(t > 0.5, torch.full_like(x, alpha), torch.full_like(x, 1 - alpha))
    del p, p_t
    return (w * alpha_t * one_minus ** gamma * -log_p_t).mean()


def _sum(v):
    return v.flatten(1).sum(1)


def dice(x, t, w):
    p = torch.sigmoid(x)
    loss = 1 - (2 * _sum(w * p * t) + EPS) / (_sum(w * (p ** 2 + t ** 2)) + EPS)
    return loss.mean()


def gdl(x, t, w):
    p = torch.sigmoid(x)
    num, den = 0, 0
    for pc, tc in [(p, t), (1 - p, 1 - t)]:
        vc = 1 / (1 + _sum(tc) ** 2)
        num = num + vc * _sum(w * pc * tc)
        den = den + vc * _sum(w * (pc ** 2 + tc ** 2))
    return (1 - (2 * num + EPS) / (den + EPS)).mean()


def asl(x, t, w, beta=1.5):
    p = torch.sigmoid(x)
    b2 = beta ** 2
    return (1 - ((1 + b2) * _sum(w * p * t) + EPS) / (_sum(w * (b2 * t ** 2 + p ** 2)) + EPS)).mean()


def dlbce(x, t, w):
    return dice(x, t, w) + bce(x, t, w)


BASES = {"bce": (bce, True), "wce": (wce, True), "dl": (dice, False), "gdl": (gdl, False), "fl": (focal, True), "asl": (asl, False), "dlbce": (dlbce, False)}


def restricted(fn, voxelwise, x, t, region, w):
    v = fn(x, t, region * w)
    return v / region.mean() if voxelwise else v


def blob(fn, voxelwise, x, t, labels, w, alpha=2.0, beta=1.0):
    terms = []
    for b in range(x.shape[0]):
        ids = [int(i) for i in torch.unique(labels[b]) if i != 0]
        if not ids:
            continue  # compute_blob_loss_multi keeps a sample's term only if it has blobs
        per = []
        for k in ids:
            this = (labels[b:b + 1] == k).double()
            region = ((labels[b:b + 1] == k) | (labels[b:b + 1] == 0)).double()
            per.append(restricted(fn, voxelwise, x[b:b + 1], this, region, w[b:b + 1]))
        terms.append(torch.stack(per).mean())
    if not terms:
        return alpha * fn(x, t, w)
    return alpha * fn(x, t, w) + beta * torch.stack(terms).mean()


def cc(fn, voxelwise, x, t, regions, w):
    terms = []
    for b in range(x.shape[0]):
        ids = [int(i) for i in torch.unique(regions[b]) if i != 0]
        if not ids:
            terms.append(fn(x[b:b + 1], t[b:b + 1], w[b:b + 1]))
            continue
        terms.append(torch.stack([restricted(fn, voxelwise, x[b:b + 1], t[b:b + 1], (regions[b:b + 1] == k).double(), w[b:b + 1]) for k in ids]).mean())
    return torch.stack(terms).mean()


def loss(name, x, t, labels, regions):
    inst = None
    if name.startswith("blob-"):
        inst, name = "blob", name[5:]
    elif name.startswith("cc-"):
        inst, name = "cc", name[3:]
    iw = name.startswith("iw")
    fn, voxelwise = BASES[name[2:] if iw else name]
    w = iw_weights(labels) if iw else torch.ones_like(x)
    if inst == "blob":
        return blob(fn, voxelwise, x, t, labels, w)
    if inst == "cc":
        return cc(fn, voxelwise, x, t, regions, w)
    return fn(x, t, w)


CONFIGS = ["bce", "iwbce", "wce", "dl", "iwdl", "gdl", "fl", "iwfl", "asl", "iwasl", "iwwce", "iwgdl", "dlbce",
           "blob-dl", "blob-iwbce", "blob-fl", "cc-dlbce", "cc-iwdl", "cc-bce"]


def cases():
    import cc3d
    from scipy import ndimage

    g = torch.Generator().manual_seed(0)
    shape = (2, 1, 8, 9, 10)

    def comps(t):
        lab = np.zeros(t.shape, np.int64)
        for b in range(t.shape[0]):
            lab[b, 0] = cc3d.connected_components(t[b, 0].numpy() > 0.5, connectivity=26)
        return torch.from_numpy(lab)

    def voronoi(lab):
        reg = np.zeros(lab.shape, np.int64)
        for b in range(lab.shape[0]):
            l = lab[b, 0].numpy()
            if l.max() == 0:
                continue
            _, idx = ndimage.distance_transform_edt(l == 0, return_indices=True)
            reg[b, 0] = l[tuple(idx)]
        return torch.from_numpy(reg)

    noise = torch.randn(shape, generator=g, dtype=torch.float64)
    smooth = torch.from_numpy(ndimage.gaussian_filter(noise.numpy(), (0, 0, 1, 1, 1)))
    t_rand = (smooth > 0.35).double()
    out = {}
    x = torch.randn(shape, generator=g, dtype=torch.float64) * 3
    out["random"] = (x, t_rand)
    out["empty"] = (torch.randn(shape, generator=g, dtype=torch.float64) * 3, torch.zeros(shape, dtype=torch.float64))
    out["full"] = (torch.randn(shape, generator=g, dtype=torch.float64) * 3, torch.ones(shape, dtype=torch.float64))
    sign = torch.where(torch.rand(shape, generator=g) > 0.5, 1.0, -1.0).double()
    out["extreme"] = (100.0 * sign, t_rand)
    # one sample with lesions, one without (blob loss averages over the first only)
    t_half = t_rand.clone()
    t_half[1] = 0
    out["half"] = (torch.randn(shape, generator=g, dtype=torch.float64) * 3, t_half)
    res = {}
    for c, (x, t) in out.items():
        lab = comps(t)
        reg = voronoi(lab)
        res[c] = (x, t, lab, reg)
    return res


def generate():
    tensors = {}
    for c, (x, t, lab, reg) in cases().items():
        tensors[f"{c}/logits"] = x
        tensors[f"{c}/target"] = t
        tensors[f"{c}/labels"] = lab
        tensors[f"{c}/regions"] = reg
        for n in CONFIGS:
            xx = x.clone().requires_grad_(True)
            v = loss(n, xx, t, lab, reg)
            v.backward()
            tensors[f"{c}/{n}/value"] = v.detach().reshape(1)
            tensors[f"{c}/{n}/grad"] = xx.grad.detach()
    return {k: v.clone().contiguous() for k, v in tensors.items()}


def main():
    if sys.argv[1] == "--check":
        from safetensors.torch import load_file

        want, have = generate(), load_file(sys.argv[2])
        bad = sorted(set(want) ^ set(have))
        bad += [k for k in sorted(set(want) & set(have))
                if want[k].dtype != have[k].dtype or not torch.allclose(want[k], have[k], rtol=1e-9, atol=1e-12)]
        if bad:
            print(f"{sys.argv[2]}: {len(bad)} tensors differ from the reference, e.g. {bad[:5]}")
            sys.exit(1)
        print(f"{sys.argv[2]}: all {len(want)} tensors match the reference")
        return
    save_file(generate(), sys.argv[1])


if __name__ == "__main__":
    main()
