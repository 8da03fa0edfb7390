#!/usr/bin/python3
"""PyTorch eager reference for bench_models: the same DistilBERT and ViT-B/16 forwards, same shapes
and thread count, in plain torch (Debian's python3-torch has no `transformers`).

Run with /usr/bin/python3 (the python3 on PATH may lack python3-torch):
    /usr/bin/python3 bench/torch_reference.py [--threads 2] [--runs 15] [--no-bf16]

Prints a Markdown table of the median ms per forward (fp32 and, for information, bf16 autocast).
"""
import argparse
import math
import os
import platform
import statistics
import time

import torch
from torch import nn
import torch.nn.functional as F

NUM_LABELS = 7  # anger disgust fear joy neutral sadness surprise


class Block(nn.Module):
    """One transformer block as transformers writes it: separate q/k/v/out linears, eager
    attention (scale q, matmul, additive mask, softmax, matmul), GELU MLP."""

    def __init__(self, dim, heads, hidden, eps, pre_norm):
        super().__init__()
        self.heads, self.pre_norm = heads, pre_norm
        self.q, self.k, self.v, self.out = (nn.Linear(dim, dim) for _ in range(4))
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.fc1, self.fc2 = nn.Linear(dim, hidden), nn.Linear(hidden, dim)
        self.norm2 = nn.LayerNorm(dim, eps=eps)

    def attention(self, x, bias):
        b, t, d = x.shape
        dh = d // self.heads
        split = lambda y: y.view(b, t, self.heads, dh).transpose(1, 2)
        q = split(self.q(x)) / math.sqrt(dh)
        scores = q @ split(self.k(x)).transpose(-1, -2)
        if bias is not None:
            scores = scores + bias.to(scores.dtype)
        ctx = scores.softmax(-1) @ split(self.v(x))
        return self.out(ctx.transpose(1, 2).reshape(b, t, d))

    def forward(self, x, bias=None):
        mlp = lambda h: self.fc2(F.gelu(self.fc1(h)))
        if self.pre_norm:  # ViT
            h = self.attention(self.norm1(x), bias) + x
            return mlp(self.norm2(h)) + h
        h = self.norm1(self.attention(x, bias) + x)  # DistilBERT
        return self.norm2(mlp(h) + h)


class DistilBert(nn.Module):
    def __init__(self, vocab=30522, max_pos=512, dim=768, layers=6, heads=12, hidden=3072):
        super().__init__()
        self.words = nn.Embedding(vocab, dim, padding_idx=0)
        self.positions = nn.Embedding(max_pos, dim)
        self.norm = nn.LayerNorm(dim, eps=1e-12)
        self.blocks = nn.ModuleList(Block(dim, heads, hidden, 1e-12, False) for _ in range(layers))
        self.pre_classifier = nn.Linear(dim, dim)
        self.classifier = nn.Linear(dim, NUM_LABELS)

    def forward(self, ids, mask):
        pos = torch.arange(ids.shape[1])
        x = self.norm(self.words(ids) + self.positions(pos)[None])
        # Additive bias, 0 where attended and the dtype's lowest value where masked (as transformers).
        bias = torch.zeros(mask.shape, dtype=x.dtype).masked_fill(mask == 0, torch.finfo(x.dtype).min)
        bias = bias[:, None, None, :]
        for block in self.blocks:
            x = block(x, bias)
        return self.classifier(F.relu(self.pre_classifier(x[:, 0])))


class ViT(nn.Module):
    def __init__(self, image=224, patch=16, dim=768, layers=12, heads=12, hidden=3072):
        super().__init__()
        self.patch = nn.Conv2d(3, dim, patch, stride=patch)
        self.cls = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos = nn.Parameter(torch.zeros(1, (image // patch) ** 2 + 1, dim))
        self.blocks = nn.ModuleList(Block(dim, heads, hidden, 1e-12, True) for _ in range(layers))
        self.norm = nn.LayerNorm(dim, eps=1e-12)
        self.classifier = nn.Linear(dim, NUM_LABELS)

    def forward(self, pixels):
        p = self.patch(pixels).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(p.shape[0], -1, -1).to(p.dtype), p], 1) + self.pos
        for block in self.blocks:
            x = block(x)
        return self.classifier(self.norm(x)[:, 0])


def init_like_transformers(model):
    # Same statistics as the C++ models (normal(0, 0.02), zero biases); speed does not depend on it.
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d, nn.Embedding)):
                m.weight.normal_(0.0, 0.02)
                if getattr(m, "bias", None) is not None:
                    m.bias.zero_()
    return model.eval()


def median_ms(fn, runs, warmup, budget_s):
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    # At least 3 timed runs; stop early on slow shapes once the time budget is spent.
    while len(times) < runs and (len(times) < 3 or time.perf_counter() - start < budget_s):
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times), len(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=int(os.environ.get("EMOPOST_THREADS", "2")))
    ap.add_argument("--runs", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--budget", type=float, default=15.0, help="max seconds of timed runs per case")
    ap.add_argument("--no-bf16", action="store_true")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)  # the default here is 1
    torch.manual_seed(0)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
          f"OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}, {platform.processor() or platform.machine()}")

    bert, vit = init_like_transformers(DistilBert()), init_like_transformers(ViT())
    cases = []
    for b, t in [(1, 32), (1, 64), (1, 128), (32, 64)]:
        ids = torch.randint(1000, 30000, (b, t))
        mask = torch.ones(b, t, dtype=torch.long)
        cases.append((f"DistilBERT b{b} s{t}", b, lambda ids=ids, mask=mask: bert(ids, mask)))
    for b in [1, 8]:
        pixels = torch.randn(b, 3, 224, 224)
        cases.append((f"ViT-B/16 224 b{b}", b, lambda pixels=pixels: vit(pixels)))

    print()
    print("| shape | PyTorch fp32 ms | items/s | PyTorch bf16 autocast ms | items/s | runs fp32/bf16 |")
    print("|---|---|---|---|---|---|")
    with torch.inference_mode():
        for name, items, fn in cases:
            fp32, n32 = median_ms(fn, args.runs, args.warmup, args.budget)
            if args.no_bf16:
                bf16, n16 = float("nan"), 0
            else:
                def fn16(fn=fn):
                    with torch.autocast("cpu", dtype=torch.bfloat16):
                        return fn()
                bf16, n16 = median_ms(fn16, args.runs, args.warmup, args.budget)
            print(f"| {name} | {fp32:.1f} | {items * 1e3 / fp32:.1f} | {bf16:.1f} | "
                  f"{items * 1e3 / bf16:.1f} | {n32}/{n16} |", flush=True)


if __name__ == "__main__":
    main()
