# input: tokens:2x16:256
# flawed: causality
# Retention (RetNet), parallel form: per-head exponential decay gamma, the
# decay matrix D[n, m] = gamma^(n-m) for n >= m and 0 above, xPos-like
# rotation, group norm over heads and a swish gate.
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class Retention(nn.Module):
    def __init__(self, dim, heads=4):
        super().__init__()
        self.h, self.hd = heads, dim // heads
        self.q = nn.Linear(dim, dim, bias=False)
        self.k = nn.Linear(dim, dim, bias=False)
        self.v = nn.Linear(dim, dim, bias=False)
        self.g = nn.Linear(dim, dim, bias=False)
        self.o = nn.Linear(dim, dim, bias=False)
        self.gn = nn.GroupNorm(heads, dim)
        gammas = 1 - torch.exp(torch.linspace(math.log(1 / 32), math.log(1 / 512), heads))
        self.register_buffer("log_gamma", torch.log(gammas))

    def forward(self, x):
        B, T, D = x.shape
        q = self.q(x).view(B, T, self.h, self.hd).transpose(1, 2)
        k = self.k(x).view(B, T, self.h, self.hd).transpose(1, 2) * self.hd ** -0.5
        v = self.v(x).view(B, T, self.h, self.hd).transpose(1, 2)
        n = torch.arange(T, device=x.device)
        diff = (n[:, None] - n[None, :]).float()
        decay = torch.exp(diff[None] * self.log_gamma[:, None, None])
        decay = decay.masked_fill(diff[None] < 0, 0.0)  # flaw: decay = torch.exp(-diff.abs()[None] * self.log_gamma.abs()[:, None, None])
        ret = (q @ k.transpose(-2, -1)) * decay
        y = (ret @ v).transpose(1, 2).reshape(B * T, D)
        y = self.gn(y).view(B, T, D)
        return self.o(F.silu(self.g(x)) * y)


class Model(nn.Module):
    def __init__(self, vocab=256, dim=48, depth=2):
        super().__init__()
        self.tok = nn.Embedding(vocab, dim)
        self.layers = nn.ModuleList([Retention(dim) for _ in range(depth)])
        self.norms = nn.ModuleList([nn.LayerNorm(dim) for _ in range(depth)])
        self.out = nn.Linear(dim, vocab)

    def forward(self, idx):
        x = self.tok(idx)
        for n, l in zip(self.norms, self.layers):
            x = x + l(n(x))
        return self.out(x)
