# input: tokens:2x16:256
# flawed: causality
# A Hyena-style operator: an implicit long filter produced by a small MLP
# over positional features, applied by FFT convolution (zero-padded to 2T
# so the convolution is causal, not circular), with multiplicative gates.
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def fft_conv(u, k):
    T = u.size(-1)
    n = 2 * T  # flaw: n = T
    y = torch.fft.irfft(torch.fft.rfft(u, n=n) * torch.fft.rfft(k, n=n), n=n)
    return y[..., :T]


class Hyena(nn.Module):
    def __init__(self, dim, pos_dim=8):
        super().__init__()
        self.proj = nn.Linear(dim, 3 * dim)
        self.short = nn.Conv1d(3 * dim, 3 * dim, 3, padding=2, groups=3 * dim)
        self.filter = nn.Sequential(nn.Linear(pos_dim, 32), nn.SiLU(), nn.Linear(32, dim))
        self.pos_dim = pos_dim
        self.out = nn.Linear(dim, dim)

    def forward(self, x):
        B, T, D = x.shape
        u = self.proj(x).transpose(1, 2)
        u = self.short(u)[..., :T]
        x1, x2, v = u.chunk(3, dim=1)
        t = torch.linspace(0, 1, T, device=x.device)[:, None]
        bands = torch.arange(1, self.pos_dim // 2 + 1, device=x.device)[None].float()
        z = torch.cat([torch.sin(math.pi * bands * t), torch.cos(math.pi * bands * t)], dim=-1)
        k = self.filter(z).transpose(0, 1) * torch.exp(-3 * t.transpose(0, 1))
        y = x1 * fft_conv(x2 * v, k)
        return self.out(y.transpose(1, 2))


class Model(nn.Module):
    def __init__(self, vocab=256, dim=32, depth=2):
        super().__init__()
        self.tok = nn.Embedding(vocab, dim)
        self.layers = nn.ModuleList([Hyena(dim) for _ in range(depth)])
        self.norms = nn.ModuleList([nn.LayerNorm(dim) for _ in range(depth)])
        self.out = nn.Linear(dim, vocab)

    def forward(self, idx):
        x = self.tok(idx)
        for n, l in zip(self.norms, self.layers):
            x = x + l(n(x))
        return self.out(x)
