"""PyTorch peer of crates/models/examples/bench_models.rs: the same network (the reference in
crates/models/tests/golden/unet_reference.py), the same training step (forward, BCE, backward,
SGD with Nesterov momentum) and the same sliding-window inference (pad to 8, patch 160,
stride 144, uniform averaging), timed the same way.

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


def sliding_window(vol, predict, patch=160, stride=144, divisor=8):
    d = vol.shape
    pad = [(-s) % divisor for s in d]
    x = F.pad(vol, (0, pad[2], 0, pad[1], 0, pad[0]), value=float(vol.min()))
    ps = x.shape
    p = [min(patch, s) for s in ps]

    def starts(n, p):
        if n <= p:
            return [0]
        v = list(range(0, n - p, stride)) + [n - p]
        return sorted(set(v))

    acc = torch.zeros(ps, dtype=torch.float64)
    w = torch.zeros(ps, dtype=torch.float64)
    for z in starts(ps[0], p[0]):
        for y in starts(ps[1], p[1]):
            for xx in starts(ps[2], p[2]):
                tile = x[z:z + p[0], y:y + p[1], xx:xx + p[2]][None, None]
                out = predict(tile)[0, 0].double().cpu()
                acc[z:z + p[0], y:y + p[1], xx:xx + p[2]] += out
                w[z:z + p[0], y:y + p[1], xx:xx + p[2]] += 1
    logits = (acc / w)[: d[0], : d[1], : d[2]].float()
    return logits, torch.sigmoid(logits)


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
