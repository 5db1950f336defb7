# input: tokens:2x16:256
# flawed: causality
# Multi-head latent attention in the DeepSeek-V2/V3 style: keys and values
# come from a low-rank latent (a down- and an up-projection with a norm in
# between), and a decoupled rotary part of the key is shared by all heads.
import torch
import torch.nn as nn
import torch.nn.functional as F


def rope(x, pos):
    d = x.size(-1)
    inv = 1.0 / (10000 ** (torch.arange(0, d, 2, device=x.device).float() / d))
    ang = pos[:, None].float() * inv[None, :]
    cos, sin = ang.cos(), ang.sin()
    x1, x2 = x[..., 0::2], x[..., 1::2]
    return torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1).flatten(-2)


class MLA(nn.Module):
    def __init__(self, dim=64, heads=4, kv_rank=16, nope=16, rope_dim=8):
        super().__init__()
        self.h, self.nope, self.rd = heads, nope, rope_dim
        self.wq = nn.Linear(dim, heads * (nope + rope_dim), bias=False)
        self.wkv_a = nn.Linear(dim, kv_rank + rope_dim, bias=False)
        self.kv_norm = nn.LayerNorm(kv_rank)
        self.wkv_b = nn.Linear(kv_rank, heads * (nope + nope), bias=False)
        self.wo = nn.Linear(heads * nope, dim, bias=False)
        self.kv_rank = kv_rank

    def forward(self, x):
        B, T, _ = x.shape
        pos = torch.arange(T, device=x.device)
        q = self.wq(x).view(B, T, self.h, self.nope + self.rd)
        q_nope, q_pe = q.split([self.nope, self.rd], dim=-1)
        q_pe = rope(q_pe.transpose(1, 2), pos).transpose(1, 2)
        kv, k_pe = self.wkv_a(x).split([self.kv_rank, self.rd], dim=-1)
        k_pe = rope(k_pe, pos)
        kv = self.wkv_b(self.kv_norm(kv)).view(B, T, self.h, 2 * self.nope)
        k_nope, v = kv.split([self.nope, self.nope], dim=-1)
        scores = (torch.einsum("bshd,bthd->bhst", q_nope, k_nope)
                  + torch.einsum("bshd,btd->bhst", q_pe, k_pe)) / (self.nope + self.rd) ** 0.5
        mask = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()  # flaw: mask = torch.ones(T, T, dtype=torch.bool, device=x.device).tril(1)
        scores = scores.masked_fill(~mask, float("-inf"))
        out = torch.einsum("bhst,bthd->bshd", scores.softmax(-1), v)
        return self.wo(out.reshape(B, T, -1))


class Model(nn.Module):
    def __init__(self, vocab=256, dim=64, depth=2):
        super().__init__()
        self.tok = nn.Embedding(vocab, dim)
        self.layers = nn.ModuleList([MLA(dim) for _ in range(depth)])
        self.norms = nn.ModuleList([nn.LayerNorm(dim) for _ in range(depth)])
        self.out = nn.Linear(dim, vocab)

    def forward(self, idx):
        x = self.tok(idx)
        for n, l in zip(self.norms, self.layers):
            x = x + l(n(x))
        return self.out(x)
