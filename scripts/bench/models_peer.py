"""PyTorch peer of crates/models/examples/bench_models.rs: the same network (the reference in
crates/models/tests/golden/unet_reference.py), the same training step (forward, BCE, backward,
SGD with Nesterov momentum) and the same sliding-window inference (the authors' grid, deep_pipe's
patches_grid: centred zero padding to 160 + 144 k, stride 144, probabilities and logits averaged
separately), timed the same way.

Usage: python models_peer.py train --size 64 [--patch D,H,W] [--reps 3] [--width 1] [--depth 3] [--threads N]
                [--device cpu|cuda] [--loss bce|iwdl]
                [--bf16] [--channels-last] [--cudnn-benchmark] [--pin] [--profile]
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
spec = importlib.util.spec_from_file_location("losses_peer", os.path.join(ROOT, "scripts/bench/losses_peer.py"))
losses = importlib.util.module_from_spec(spec)
spec.loader.exec_module(losses)


def host_batch(n, step, with_labels):
    """The sampler's part, as bench_models does it: image, mask, the mask's components (n: D, H, W)."""
    torch.manual_seed(100 + step)
    x = torch.randn(2, 1, *n)
    y = (x > 2.0).float()
    labels = None
    if with_labels:
        try:
            import cc3d
            lab = lambda m: cc3d.connected_components(m.astype("uint8"), connectivity=26)
        except ImportError:
            import scipy.ndimage as ndi
            lab = lambda m: ndi.label(m, structure=ndi.generate_binary_structure(3, 3))[0]
        labels = torch.stack([torch.from_numpy(lab(y[b, 0].numpy()).astype("int64"))[None] for b in range(2)])
    return x, y, labels


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
    if "--threads" in sys.argv:
        torch.set_num_threads(int(arg("--threads", 1)))
    m = ref.ResUNet(float(arg("--width", 1.0)), int(arg("--depth", 3))).to(dev)
    sync = (lambda: torch.cuda.synchronize()) if dev != "cpu" else (lambda: None)
    times = []
    if mode == "train":
        n = int(arg("--size", 64))
        n = [int(v) for v in arg("--patch", f"{n},{n},{n}").split(",")]
        loss_name = arg("--loss", "bce")
        iw = loss_name.startswith("iw")
        cl = "--channels-last" in sys.argv
        pin = "--pin" in sys.argv and dev != "cpu"
        torch.backends.cudnn.benchmark = "--cudnn-benchmark" in sys.argv
        amp = "--bf16" in sys.argv and dev != "cpu"
        if cl:
            m = m.to(memory_format=torch.channels_last_3d)
        opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9, nesterov=True)
        m.train()

        def loss_of(logits, y, labels):
            if loss_name == "bce":
                return F.binary_cross_entropy_with_logits(logits, y)
            w = losses.iw_weights(labels) if iw else None
            return losses.dice(logits, y, w)

        def upload(t):
            if t is None:
                return None
            if pin:
                return t.pin_memory().to(dev, non_blocking=True)
            return t.to(dev)

        def step(x, y, labels, marks):
            if cl:
                x = x.contiguous(memory_format=torch.channels_last_3d)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
                logits = m(x)
            logits = logits.float()
            marks.append(sync_time())
            loss = loss_of(logits, y, labels)
            loss.item()
            marks.append(sync_time())
            opt.zero_grad()
            loss.backward()
            marks.append(sync_time())
            opt.step()
            marks.append(sync_time())

        def sync_time():
            sync()
            return time.perf_counter()

        if "--profile" in sys.argv:
            names = ["host_batch", "h2d", "forward", "loss", "backward", "optimiser", "step"]
            rows = []
            for i in range(reps + 2):
                t0 = time.perf_counter()
                x, y, labels = host_batch(n, i, iw)
                t1 = time.perf_counter()
                xd, yd, ld = upload(x), upload(y), upload(labels)
                t2 = sync_time()
                marks = []
                step(xd, yd, ld, marks)
                if i >= 2:
                    rows.append([t1 - t0, t2 - t1, marks[0] - t2, marks[1] - marks[0], marks[2] - marks[1], marks[3] - marks[2], marks[3] - t2])
            med = lambda i: sorted(r[i] for r in rows)[len(rows) // 2]
            out = {"loss": loss_name, "reps": len(rows)}
            out.update({f"{k}_s": med(i) for i, k in enumerate(names)})
            print(json.dumps(out))
            return
        x, y, labels = host_batch(n, 1, iw)
        x, y, labels = x.to(dev), y.to(dev), (labels.to(dev) if labels is not None else None)

        def timed():
            t = time.perf_counter()
            step(x, y, labels, [])
            return time.perf_counter() - t

        timed()
        times = [timed() for _ in range(reps)]
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
