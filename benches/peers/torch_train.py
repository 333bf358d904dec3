#!/usr/bin/env python3
"""PyTorch peer of gmvae's training step, for throughput comparison only (no test uses it).

Measures CPU training throughput (images/s) of the same Gaussian-mixture VAE as
`gmvae bench train`: encoder conv3x3(1->32) ReLU maxpool2, conv3x3(32->64) ReLU maxpool2,
dense 3136->256 ReLU, dense 256->10; decoder dense 10->256 ReLU, dense 256->3136 ReLU,
reshape 64x7x7, nearest upsample 2x, conv3x3(64->32) ReLU, upsample 2x, conv3x3(32->1),
sigmoid. Loss = mean over the batch of ||x - g(z + eps)||^2 + alpha * ||z - onehot(y)||^2,
eps ~ N(0, s2 I); Adam lr 1e-3. One step = forward, backward, Adam update, loss read back.

Run (PyTorch lives in the /opt/peer venv):
    /opt/peer/bin/python benches/peers/torch_train.py --threads 2 --batch 64 --steps 30
Add `--data fixtures/data/mnist-10k/train-images-idx3-ubyte.gz` to train on real digits
instead of synthetic uniform pixels. Prints one JSON line on stdout.
"""

import argparse
import gzip
import json
import time

import numpy as np
import torch
from torch import nn

PRESETS = {"paper": (32, 64, 256), "wide": (32, 64, 1024), "edge": (8, 16, 64), "tiny": (4, 8, 16)}


class GmVae(nn.Module):
    def __init__(self, c1, c2, hidden, latent=10):
        super().__init__()
        self.c2 = c2
        self.encoder = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(c2 * 49, hidden), nn.ReLU(), nn.Linear(hidden, latent),
        )
        self.dense = nn.Sequential(
            nn.Linear(latent, hidden), nn.ReLU(), nn.Linear(hidden, c2 * 49), nn.ReLU(),
        )
        self.deconv = nn.Sequential(
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c2, c1, 3, padding=1), nn.ReLU(),
            nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(c1, 1, 3, padding=1),
            nn.Sigmoid(),
        )

    def decode(self, z):
        return self.deconv(self.dense(z).view(-1, self.c2, 7, 7))


def read_idx_images(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    magic, count, rows, cols = np.frombuffer(raw[:16], dtype=">u4")
    if magic != 2051 or (rows, cols) != (28, 28):
        raise SystemExit(f"{path}: not a 28x28 IDX image file")
    return np.frombuffer(raw[16:], dtype=np.uint8)[: count * 784].reshape(count, 1, 28, 28)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--preset", choices=PRESETS, default="paper")
    p.add_argument("--data", help="gzip IDX image file (default: synthetic pixels)")
    p.add_argument("--seed", type=int, default=2019)
    a = p.parse_args()

    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    torch.manual_seed(a.seed)
    rng = np.random.default_rng(a.seed)
    n = max(8 * a.batch, 512)
    if a.data:
        images = read_idx_images(a.data)[:n].astype(np.float32) / 255.0
    else:
        images = rng.random((n, 1, 28, 28), dtype=np.float32)
    images = torch.from_numpy(np.ascontiguousarray(images))
    labels = torch.from_numpy(rng.integers(0, 10, len(images)))
    means = torch.eye(10)

    model = GmVae(*PRESETS[a.preset])
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    alpha, s2 = 100.0, 1.0 / 3000.0
    batches = len(images) // a.batch

    def step(k):
        lo = (k % batches) * a.batch
        x, mu = images[lo : lo + a.batch], means[labels[lo : lo + a.batch]]
        z = model.encoder(x)
        recon = model.decode(z + torch.randn_like(z) * s2**0.5)
        loss = ((recon - x) ** 2).sum((1, 2, 3)).mean() + alpha * ((z - mu) ** 2).sum(1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    for k in range(a.warmup):
        step(k)
    start = time.perf_counter()
    for k in range(a.steps):
        step(a.warmup + k)
    seconds = time.perf_counter() - start
    print(json.dumps({
        "peer": "pytorch", "version": torch.__version__, "threads": torch.get_num_threads(),
        "batch": a.batch, "preset": a.preset, "steps": a.steps, "warmup": a.warmup,
        "seconds": round(seconds, 6), "images_per_second": a.steps * a.batch / seconds,
    }))


if __name__ == "__main__":
    main()
