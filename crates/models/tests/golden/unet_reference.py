"""The paper's 3D residual U-Net in PyTorch, written from METHOD.md independently of the Rust
code, for the equivalence test: same module names (state_dict keys) as iw-models.

Usage: python unet_reference.py OUT_DIR WIDTH DEPTH
Writes OUT_DIR/weights.safetensors (the state_dict, without num_batches_tracked),
OUT_DIR/io.safetensors (input, eval and train outputs, running stats after the train pass,
weights after 3 SGD-Nesterov steps) and OUT_DIR/info.json (parameter count, shapes).
"""
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file


class PreAct(nn.Module):
    def __init__(self, ci, co, k, bias):
        super().__init__()
        self.bn = nn.BatchNorm3d(ci)
        self.conv = nn.Conv3d(ci, co, k, padding=k // 2, bias=bias)

    def forward(self, x):
        return self.conv(F.relu(self.bn(x)))


class ResBlock(nn.Module):
    def __init__(self, ci, co, k):
        super().__init__()
        self.act1 = PreAct(ci, co, k, False)
        self.act2 = PreAct(co, co, k, False)
        self.shortcut = nn.Conv3d(ci, co, 1, bias=False) if ci != co else None

    def forward(self, x):
        y = self.act2(self.act1(x))
        return y + (self.shortcut(x) if self.shortcut is not None else x)


def chain(chs, k):
    return nn.ModuleList([ResBlock(a, b, k) for a, b in zip(chs, chs[1:])])


class ResUNet(nn.Module):
    def __init__(self, width=1.0, depth=3, cin=1, cout=1):
        super().__init__()
        ch = lambda c: max(1, round(c * width))
        c = [ch(16)] + [ch(x) for x in [16, 64, 128, 256, 512, 1024][:depth]]
        f = c[0]
        self.init = nn.Conv3d(cin, f, 3, padding=1, bias=False)
        self.init_act = PreAct(f, f, 3, True)
        self.down = nn.ModuleList([chain([c[l], c[l + 1], c[l + 1]], 3) for l in range(depth)])
        self.lateral = nn.ModuleList([PreAct(c[l + 1], c[l + 1], 1, True) for l in range(depth)])
        last = c[depth]
        self.bridge = chain([last, 2 * last, 2 * last, last], 3)
        self.up = nn.ModuleList([chain([c[l + 1], c[l + 1], c[l]], 3) for l in range(depth)])
        self.head_block = ResBlock(f, f, 1)
        self.head_act = PreAct(f, cout, 1, False)
        self.head_bn = nn.BatchNorm3d(cout)

    def forward(self, x):
        x = self.init_act(self.init(x))
        skips = []
        for blocks, lat in zip(self.down, self.lateral):
            for b in blocks:
                x = b(x)
            skips.append(lat(x))
            x = F.max_pool3d(x, 2, ceil_mode=True)
        for b in self.bridge:
            x = b(x)
        for blocks in reversed(self.up):
            skip = skips.pop()
            x = skip + F.interpolate(x, size=skip.shape[2:], mode="trilinear", align_corners=True)
            for b in blocks:
                x = b(x)
        return self.head_bn(self.head_act(self.head_block(x)))


def main():
    out, width, depth = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    m = ResUNet(width, depth)
    with torch.no_grad():  # non-trivial BatchNorm state, so that eval mode is tested too
        for mod in m.modules():
            if isinstance(mod, nn.BatchNorm3d):
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.uniform_(-0.2, 0.2)
                mod.running_mean.uniform_(-0.1, 0.1)
                mod.running_var.uniform_(0.5, 2.0)
    sd = {k: v.clone().contiguous() for k, v in m.state_dict().items() if not k.endswith("num_batches_tracked")}
    save_file(sd, os.path.join(out, "weights.safetensors"))
    n = 8 * (2 ** depth) // 4 if depth > 1 else 8
    x = torch.randn(2, 1, n + 4, n, n + 2, generator=torch.Generator().manual_seed(1))
    m.eval()
    with torch.no_grad():
        y_eval = m(x)
    m.train()
    with torch.no_grad():
        y_train = m(x)
    io = {"input": x, "eval": y_eval, "train": y_train}
    for k, v in m.state_dict().items():
        if k.endswith("running_mean") or k.endswith("running_var"):
            io[f"after_train/{k}"] = v.clone()
    # Three SGD steps (lr 0.01, momentum 0.9, Nesterov) on loss = mean(logits^2), from the saved
    # weights and statistics.
    m.load_state_dict({**m.state_dict(), **sd})
    opt = torch.optim.SGD(m.parameters(), lr=0.01, momentum=0.9, nesterov=True)
    losses = []
    for _ in range(3):
        opt.zero_grad()
        loss = (m(x) ** 2).mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    for k, v in m.state_dict().items():
        if not k.endswith("num_batches_tracked"):
            io[f"after_sgd/{k}"] = v.clone()
    io["sgd_losses"] = torch.tensor(losses, dtype=torch.float64)
    save_file({k: v.contiguous() for k, v in io.items()}, os.path.join(out, "io.safetensors"))
    info = {"params": sum(p.numel() for p in m.parameters()), "shapes": {k: list(v.shape) for k, v in sd.items()}}
    json.dump(info, open(os.path.join(out, "info.json"), "w"))


if __name__ == "__main__":
    main()
