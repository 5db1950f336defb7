# input: tokens:2x16:256
# flawed: causality
# DeltaNet: linear attention whose fast-weight memory is updated by the
# delta rule, S_t = S_{t-1} + beta_t (v_t - S_{t-1} k_t) k_t^T, with
# L2-normalised keys, written as the recurrent reference form.
import torch
import torch.nn as nn
import torch.nn.functional as F


class DeltaRule(nn.Module):
    def __init__(self, dim, heads=4):
        super().__init__()
        self.h, self.hd = heads, dim // heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.beta = nn.Linear(dim, heads, bias=False)
        self.o = nn.Linear(dim, dim, bias=False)

    def forward(self, x):
        B, T, D = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.h, self.hd).unbind(2)
        q, k = F.normalize(F.silu(q), dim=-1), F.normalize(F.silu(k), dim=-1)
        beta = torch.sigmoid(self.beta(x))
        S = x.new_zeros(B, self.h, self.hd, self.hd)
        out = []
        for t in range(T):
            kt, vt, bt = k[:, t], v[:, t], beta[:, t, :, None]
            pred = torch.einsum("bhvk,bhk->bhv", S, kt)
            S = S + torch.einsum("bhv,bhk->bhvk", bt * (vt - pred), kt)
            out.append(torch.einsum("bhvk,bhk->bhv", S, q[:, t]))  # flaw: out.append(torch.einsum("bhvk,bhk->bhv", S, q[:, min(t + 1, T - 1)]))
        return self.o(torch.stack(out, dim=1).reshape(B, T, D))


class Model(nn.Module):
    def __init__(self, vocab=256, dim=48, depth=2):
        super().__init__()
        self.tok = nn.Embedding(vocab, dim)
        self.layers = nn.ModuleList([DeltaRule(dim) for _ in range(depth)])
        self.norms = nn.ModuleList([nn.RMSNorm(dim) if hasattr(nn, "RMSNorm") else nn.LayerNorm(dim) for _ in range(depth)])
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.SiLU(), nn.Linear(2 * dim, dim))
        self.out = nn.Linear(dim, vocab)

    def forward(self, idx):
        x = self.tok(idx)
        for n, l in zip(self.norms, self.layers):
            x = x + l(n(x))
        return self.out(x + self.mlp(x))
