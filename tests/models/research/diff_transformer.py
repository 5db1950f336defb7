# input: tokens:2x16:256
# flawed: causality
# Differential attention: two softmax attention maps from split queries
# and keys, subtracted with a learnable, re-parameterised lambda, then a
# per-head RMS normalisation, as in the Differential Transformer.
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class DiffAttn(nn.Module):
    def __init__(self, dim, heads=2, depth_idx=1):
        super().__init__()
        self.h, self.hd = heads, dim // heads // 2
        self.q = nn.Linear(dim, dim, bias=False)
        self.k = nn.Linear(dim, dim, bias=False)
        self.v = nn.Linear(dim, dim, bias=False)
        self.o = nn.Linear(dim, dim, bias=False)
        self.lambda_init = 0.8 - 0.6 * math.exp(-0.3 * depth_idx)
        self.lq1 = nn.Parameter(torch.randn(self.hd) * 0.1)
        self.lk1 = nn.Parameter(torch.randn(self.hd) * 0.1)
        self.lq2 = nn.Parameter(torch.randn(self.hd) * 0.1)
        self.lk2 = nn.Parameter(torch.randn(self.hd) * 0.1)

    def forward(self, x):
        B, T, D = x.shape
        q = self.q(x).view(B, T, 2 * self.h, self.hd).transpose(1, 2)
        k = self.k(x).view(B, T, 2 * self.h, self.hd).transpose(1, 2)
        v = self.v(x).view(B, T, self.h, 2 * self.hd).transpose(1, 2)
        s = q @ k.transpose(-1, -2) / math.sqrt(self.hd)
        mask = torch.triu(torch.full((T, T), float("-inf"), device=x.device), 1)  # flaw: mask = torch.zeros(T, T, device=x.device)
        a = F.softmax(s + mask, dim=-1).view(B, self.h, 2, T, T)
        lam = torch.exp((self.lq1 * self.lk1).sum()) - torch.exp((self.lq2 * self.lk2).sum()) + self.lambda_init
        y = (a[:, :, 0] - lam * a[:, :, 1]) @ v
        y = y * torch.rsqrt(y.pow(2).mean(-1, keepdim=True) + 1e-5) * (1 - self.lambda_init)
        return self.o(y.transpose(1, 2).reshape(B, T, D))


class Model(nn.Module):
    def __init__(self, vocab=256, dim=48, depth=2):
        super().__init__()
        self.tok = nn.Embedding(vocab, dim)
        self.layers = nn.ModuleList([DiffAttn(dim, depth_idx=i + 1) for i in range(depth)])
        self.norms = nn.ModuleList([nn.LayerNorm(dim) for _ in range(depth)])
        self.out = nn.Linear(dim, vocab)

    def forward(self, idx):
        x = self.tok(idx)
        for n, l in zip(self.norms, self.layers):
            x = x + l(n(x))
        return self.out(x)
