"""The paper's loss configurations in plain PyTorch (Python), timed the way
crates/losses/examples/bench_losses.rs times ours: forward + backward on a 2 x 1 x 128^3 batch
(the same label patch twice, the second flipped; normal logits x 3), median of REPS runs after
two warm-ups. Each loss is written as a PyTorch user would write the formula of METHOD.md;
inverse weights use torch.bincount per sample.

Usage: python losses_peer.py LABELS.nii [--reps N] [--device cpu|cuda]  -> JSON on stdout
"""
import json
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

EPS = 1e-10


def iw_weights(labels, w_min=1.0, w_max=2e5):
    out = torch.empty(labels.shape, dtype=torch.float32, device=labels.device)
    for b in range(labels.shape[0]):
        lab = labels[b].flatten()
        counts = torch.bincount(lab).double()
        k = (counts[1:] > 0).sum()
        table = (lab.numel() / ((k + 1) * counts)).clamp(w_min, w_max).float()
        out[b] = table[lab].reshape(labels[b].shape)
    return out


def _sum(v):
    return v.flatten(1).sum(1)


def bce(x, t, w):
    return F.binary_cross_entropy_with_logits(x, t, weight=w)


def wce(x, t, w):
    # deep_pipe's adaptive WCE: pos_weight over the batch, with its gradient
    p = torch.sigmoid(x).sum()
    pos_w = (x.numel() - p) / p
    loss = -(pos_w * t * F.logsigmoid(x) + (1 - t) * F.logsigmoid(-x))
    return (loss if w is None else loss * w).mean()


def dice(x, t, w):
    p = torch.sigmoid(x)
    if w is None:
        w = 1.0
    return (1 - (2 * _sum(w * p * t) + EPS) / (_sum(w * (p * p + t * t)) + EPS)).mean()


def gdl(x, t, w):
    p = torch.sigmoid(x)
    if w is None:
        w = 1.0
    num, den = 0, 0
    for pc, tc in [(p, t), (1 - p, 1 - t)]:
        vc = 1 / (1 + _sum(tc) ** 2)
        num = num + vc * _sum(w * pc * tc)
        den = den + vc * _sum(w * (pc * pc + tc * tc))
    return (1 - (2 * num + EPS) / (den + EPS)).mean()


def focal(x, t, w, gamma=2.0, alpha=0.75):
    bce_v = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    p = torch.sigmoid(x)
    p_t = p * t + (1 - p) * (1 - t)
    alpha_t = alpha * t + (1 - alpha) * (1 - t)
    loss = alpha_t * (1 - p_t) ** gamma * bce_v
    if w is not None:
        loss = loss * w
    return loss.mean()


def asl(x, t, w, beta=1.5):
    p = torch.sigmoid(x)
    if w is None:
        w = 1.0
    b2 = beta * beta
    return (1 - ((1 + b2) * _sum(w * p * t) + EPS) / (_sum(w * (b2 * t * t + p * p)) + EPS)).mean()


BASES = {"bce": bce, "wce": wce, "dl": dice, "gdl": gdl, "fl": focal, "asl": asl}
CONFIGS = ["bce", "iwbce", "wce", "dl", "iwdl", "gdl", "fl", "iwfl", "asl", "iwasl"]


def main():
    import nibabel as nib

    path = sys.argv[1]
    reps = int(sys.argv[sys.argv.index("--reps") + 1]) if "--reps" in sys.argv else 10
    dev = sys.argv[sys.argv.index("--device") + 1] if "--device" in sys.argv else "cpu"
    lab = torch.from_numpy(np.ascontiguousarray(np.asarray(nib.load(path).dataobj).T).astype(np.int64))[None, None]
    labels = torch.cat([lab, lab.flip(4)], 0).to(dev)
    target = (labels > 0).float()
    torch.manual_seed(0)
    logits0 = torch.randn(labels.shape, device=dev) * 3.0
    out = {}
    for name in CONFIGS:
        iw = name.startswith("iw")
        fn = BASES[name[2:] if iw else name]

        def run():
            x = logits0.detach().requires_grad_(True)
            w = iw_weights(labels) if iw else None
            fn(x, target, w).backward()
            if dev != "cpu":
                torch.cuda.synchronize()

        for _ in range(2):
            run()
        ts = []
        for _ in range(reps):
            t = time.perf_counter()
            run()
            ts.append(time.perf_counter() - t)
        out[name] = float(np.median(ts))
    print(json.dumps(out))


if __name__ == "__main__":
    main()
