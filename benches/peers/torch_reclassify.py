#!/usr/bin/env python3
"""PyTorch peer of gmvae's reclassification (paper 3.5), for latency comparison only (no test
uses it).

Reads an exported model file (`.gmvae`, parsed with `struct` per formats/SPEC.md, CRC
included), builds the decoder in PyTorch (nn.Linear, nearest nn.Upsample, nn.Conv2d,
sigmoid; parameters frozen) and runs the runtime's loop with autograd: for every class c,
z = mu_c, then `steps` Adam steps on sum((g(z) - x)^2), keeping each start's best iterate;
the start with the lowest loss wins and its nearest class mean is the label. The Adam update
is the runtime's, in the same float32 order: m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*(g*g);
z -= (lr * (m / (1 - b1^t))) / (sqrt(v / (1 - b2^t)) + eps).

By default the starts run *batched* (z is [classes, latent]; one forward and one backward
per step for all starts, as a PyTorch user would write it); `--sequential` runs them one
after another, like the runtime. One intra-op and one inter-op thread unless --threads.

Verification, before timing:
  --check FILE  JSON written by `gmvae bench reclassify`: {"settings": {...}, "cases":
                [{"image": [...], "label", "start", "latent": [...], "start_losses":
                [...]}, ...]} with the Rust runtime's results. Each case must give the same
                label, every start's loss within 1e-3 relative, and (when the winning start
                is the same) the winning latent within 2e-3 of max |z|. The first case's
                image is the one timed.
A failed check exits with status 1 before anything is timed.

Run (PyTorch lives in the /opt/peer venv):
    /opt/peer/bin/python benches/peers/torch_reclassify.py runs/demo/model.gmvae --check FILE
Prints one JSON line on stdout.
"""

import argparse
import json
import sys
import time

import numpy as np
import torch
from torch import nn

from gmvae_file import read_model

LOSS_TOL = 1e-3
LATENT_TOL = 2e-3


def fail(message):
    print(f"torch_reclassify: {message}", file=sys.stderr)
    sys.exit(1)


class Decoder(nn.Module):
    """g: dense ReLU, dense ReLU, reshape, upsample 2x, conv3x3 ReLU, upsample 2x, conv3x3,
    sigmoid; weights from the file (dense weights are stored input-major [in][out])."""

    def __init__(self, s, t):
        super().__init__()
        self.grid = (s["c2"], s["H"] // 4, s["W"] // 4)
        self.fc1 = nn.Linear(s["latent"], s["hidden"])
        self.fc2 = nn.Linear(s["hidden"], s["c2"] * self.grid[1] * self.grid[2])
        self.conv1 = nn.Conv2d(s["c2"], s["c1"], 3, padding=1)
        self.conv2 = nn.Conv2d(s["c1"], s["C"], 3, padding=1)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        with torch.no_grad():
            for layer, name in [(self.fc1, "dec.fc1"), (self.fc2, "dec.fc2")]:
                layer.weight.copy_(torch.from_numpy(t[name + ".weight"].T.copy()))
                layer.bias.copy_(torch.from_numpy(t[name + ".bias"]))
            for layer, name in [(self.conv1, "dec.conv1"), (self.conv2, "dec.conv2")]:
                layer.weight.copy_(torch.from_numpy(t[name + ".weight"]))
                layer.bias.copy_(torch.from_numpy(t[name + ".bias"]))
        for p in self.parameters():
            p.requires_grad_(False)

    def forward(self, z):
        h = torch.relu(self.fc2(torch.relu(self.fc1(z))))
        h = h.view(-1, *self.grid)
        h = torch.relu(self.conv1(self.up(h)))
        return torch.sigmoid(self.conv2(self.up(h)))


def descend(decoder, x, starts, st):
    """Adam from every row of `starts` ([k, latent]); returns (best losses [k], best z)."""
    z = starts.clone().requires_grad_(True)
    m = torch.zeros_like(starts)
    v = torch.zeros_like(starts)
    best = torch.full((starts.shape[0],), float("inf"))
    best_z = starts.clone()
    b1, b2, lr, eps = st["beta1"], st["beta2"], st["learning_rate"], st["epsilon"]
    w1 = np.float32(1.0) - np.float32(b1)
    w2 = np.float32(1.0) - np.float32(b2)
    b1t = np.float32(1.0)
    b2t = np.float32(1.0)
    for t in range(st["steps"] + 1):
        loss = ((decoder(z) - x) ** 2).flatten(1).sum(1)
        with torch.no_grad():
            better = loss < best
            best = torch.where(better, loss, best)
            best_z[better] = z[better]
        if t == st["steps"]:
            break
        (g,) = torch.autograd.grad(loss.sum(), z)
        b1t = np.float32(b1t * np.float32(b1))
        b2t = np.float32(b2t * np.float32(b2))
        c1 = float(np.float32(1.0) - b1t)
        c2 = float(np.float32(1.0) - b2t)
        with torch.no_grad():
            m.mul_(b1).add_(g * float(w1))
            v.mul_(b2).add_((g * g) * float(w2))
            z -= (lr * (m / c1)) / (torch.sqrt(v / c2) + eps)
    return best.detach(), best_z.detach()


def reclassify(decoder, means, x, st, sequential):
    if sequential:
        parts = [descend(decoder, x, means[c : c + 1], st) for c in range(means.shape[0])]
        losses = torch.cat([p[0] for p in parts])
        zs = torch.cat([p[1] for p in parts])
    else:
        losses, zs = descend(decoder, x, means, st)
    start = int(torch.argmin(losses))  # first minimum: ties to the lowest class
    z = zs[start]
    label = int(torch.argmin(((means - z) ** 2).sum(1)))
    return label, start, z, losses


def check(decoder, means, cases, st, sequential, shape):
    worst_loss = worst_latent = 0.0
    for i, case in enumerate(cases):
        x = torch.tensor(case["image"], dtype=torch.float32).view(1, *shape)
        label, start, z, losses = reclassify(decoder, means, x, st, sequential)
        want = np.asarray(case["start_losses"], np.float64)
        rel = np.abs(losses.numpy().astype(np.float64) - want) / np.maximum(np.abs(want), 1.0)
        worst_loss = max(worst_loss, float(rel.max()))
        if label != case["label"]:
            fail(f"case {i}: label {label}, the runtime says {case['label']}")
        if rel.max() > LOSS_TOL:
            fail(f"case {i}: start losses differ by {rel.max():.2e} relative")
        if start == case["start"]:
            zr = np.asarray(case["latent"], np.float64)
            d = float(np.abs(z.numpy() - zr).max() / max(np.abs(zr).max(), 1e-30))
            worst_latent = max(worst_latent, d)
            if d > LATENT_TOL:
                fail(f"case {i}: winning latent differs by {d:.2e} of max |z|")
    return {"cases": len(cases), "max_rel_start_loss": worst_loss,
            "max_rel_latent": worst_latent}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model")
    p.add_argument("--check", required=True, help="JSON from `gmvae bench reclassify`")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--sequential", action="store_true")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    try:
        sizes, _calibration, tensors = read_model(a.model)
    except ValueError as e:
        fail(str(e))
    decoder = Decoder(sizes, tensors).eval()
    means = torch.from_numpy(tensors["class_means"].copy())
    with open(a.check) as f:
        spec = json.load(f)
    st = spec["settings"]
    if st.get("early_stop_tolerance", 0.0) != 0.0:
        fail("early stopping is not implemented in the peer; time with --early-stop 0")
    shape = (sizes["C"], sizes["H"], sizes["W"])
    agreement = check(decoder, means, spec["cases"], st, a.sequential, shape)
    x = torch.tensor(spec["cases"][0]["image"], dtype=torch.float32).view(1, *shape)
    for _ in range(a.warmup):
        reclassify(decoder, means, x, st, a.sequential)
    times = []
    for _ in range(a.runs):
        t0 = time.perf_counter()
        reclassify(decoder, means, x, st, a.sequential)
        times.append((time.perf_counter() - t0) * 1e3)
    times.sort()
    print(json.dumps({
        "peer": "pytorch", "version": torch.__version__, "threads": a.threads,
        "mode": "sequential" if a.sequential else "batched", "steps": st["steps"],
        "starts": int(means.shape[0]), "runs": a.runs, "min_ms": times[0],
        "median_ms": times[len(times) // 2], "check": agreement,
    }))


if __name__ == "__main__":
    main()
