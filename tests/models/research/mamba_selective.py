# input: tokens:2x16:256
# flawed: causality
# A Mamba-style selective state-space block: input-dependent step size,
# B and C, a causal depthwise convolution, a sequential selective scan
# over time and a SiLU gate, as the minimal reference implementations are.
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


class Mamba(nn.Module):
    def __init__(self, dim, d_state=8, expand=2, d_conv=4):
        super().__init__()
        di = expand * dim
        self.di, self.n = di, d_state
        self.in_proj = nn.Linear(dim, 2 * di, bias=False)
        self.conv = nn.Conv1d(di, di, d_conv, groups=di, padding=d_conv - 1)
        self.x_proj = nn.Linear(di, 1 + 2 * d_state, bias=False)
        self.dt_proj = nn.Linear(1, di)
        self.A_log = nn.Parameter(torch.log(torch.arange(1, d_state + 1).float()).repeat(di, 1))
        self.D = nn.Parameter(torch.ones(di))
        self.out_proj = nn.Linear(di, dim, bias=False)

    def forward(self, x):
        B, T, _ = x.shape
        xz = self.in_proj(x)
        u, z = xz.chunk(2, dim=-1)
        u = F.silu(self.conv(u.transpose(1, 2))[..., :T].transpose(1, 2))  # flaw: u = F.silu(self.conv(u.transpose(1, 2))[..., -T:].transpose(1, 2))
        dt, Bm, Cm = self.x_proj(u).split([1, self.n, self.n], dim=-1)
        dt = F.softplus(self.dt_proj(dt))
        A = -torch.exp(self.A_log)
        dA = torch.exp(dt.unsqueeze(-1) * A)
        dBu = dt.unsqueeze(-1) * Bm.unsqueeze(2) * u.unsqueeze(-1)
        h = x.new_zeros(B, self.di, self.n)
        ys = []
        for t in range(T):
            h = dA[:, t] * h + dBu[:, t]
            ys.append((h * Cm[:, t].unsqueeze(1)).sum(-1))
        y = torch.stack(ys, dim=1) + u * self.D
        return self.out_proj(y * F.silu(z))


class Model(nn.Module):
    def __init__(self, vocab=256, dim=32, depth=2):
        super().__init__()
        self.tok = nn.Embedding(vocab, dim)
        self.layers = nn.ModuleList([Mamba(dim) for _ in range(depth)])
        self.norms = nn.ModuleList([nn.LayerNorm(dim) for _ in range(depth)])
        self.out = nn.Linear(dim, vocab)

    def forward(self, idx):
        x = self.tok(idx)
        for n, l in zip(self.norms, self.layers):
            x = x + l(n(x))
        return self.out(x)
