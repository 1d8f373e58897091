"""PyTorch peer of crates/models/examples/bench_models.rs: the same network (the reference in
crates/models/tests/golden/unet_reference.py), the same training step (forward, BCE, backward,
SGD with Nesterov momentum) and the same sliding-window inference (the authors' grid, deep_pipe's
patches_grid: centred zero padding to 160 + 144 k, stride 144, probabilities and logits averaged
separately), timed the same way.

Usage: python models_peer.py train --size 64 [--reps 3] [--width 1] [--device cpu|cuda]
       python models_peer.py infer --shape 128,256,256 [--reps 1] [--device cpu|cuda]
"""
import importlib.util
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
spec = importlib.util.spec_from_file_location("unet_reference", os.path.join(ROOT, "crates/models/tests/golden/unet_reference.py"))
ref = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ref)


def arg(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def sliding_window(vol, predict, patch=160, stride=144):
    d = vol.shape
    new = [max(n, patch) + (stride - max(n, patch) + patch) % stride for n in d]
    before = [(m - n) // 2 for m, n in zip(new, d)]
    after = [m - n - b for m, n, b in zip(new, d, before)]
    x = F.pad(vol, (before[2], after[2], before[1], after[1], before[0], after[0]), value=0.0)
    ps = x.shape
    acc = torch.zeros(ps, dtype=torch.float64)
    pacc = torch.zeros(ps, dtype=torch.float64)
    w = torch.zeros(ps, dtype=torch.float64)
    for z in range(0, ps[0] - patch + 1, stride):
        for y in range(0, ps[1] - patch + 1, stride):
            for xx in range(0, ps[2] - patch + 1, stride):
                tile = x[z:z + patch, y:y + patch, xx:xx + patch][None, None]
                out = predict(tile)[0, 0].double().cpu()
                acc[z:z + patch, y:y + patch, xx:xx + patch] += out
                pacc[z:z + patch, y:y + patch, xx:xx + patch] += torch.sigmoid(out)
                w[z:z + patch, y:y + patch, xx:xx + patch] += 1
    crop = tuple(slice(b, b + n) for b, n in zip(before, d))
    return (acc / w)[crop].float(), (pacc / w)[crop].float()


def main():
    mode = sys.argv[1]
    reps = int(arg("--reps", 3))
    dev = arg("--device", "cpu")
    torch.manual_seed(0)
    m = ref.ResUNet(float(arg("--width", 1.0)), 3).to(dev)
    sync = (lambda: torch.cuda.synchronize()) if dev != "cpu" else (lambda: None)
    times = []
    if mode == "train":
        n = int(arg("--size", 64))
        x = torch.randn(2, 1, n, n, n, device=dev)
        y = (x > 1.0).float()
        opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9, nesterov=True)
        m.train()

        def step():
            t = time.perf_counter()
            logits = m(x)
            loss = F.binary_cross_entropy_with_logits(logits, y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sync()
            return time.perf_counter() - t

        step()
        times = [step() for _ in range(reps)]
    else:
        s = [int(v) for v in arg("--shape", "128,256,256").split(",")]
        vol = torch.randn(*s)
        m.eval()
        with torch.no_grad():
            for _ in range(reps):
                t = time.perf_counter()
                sliding_window(vol, lambda t_: m(t_.to(dev)))
                sync()
                times.append(time.perf_counter() - t)
    times.sort()
    print(json.dumps({"median_s": times[len(times) // 2], "min_s": times[0]}))


if __name__ == "__main__":
    main()
