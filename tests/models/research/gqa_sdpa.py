# input: tokens:2x16:256
# torch: 2.5
# flawed: causality
# Grouped-query attention the torch 2.x way: fewer key/value heads than
# query heads, scaled_dot_product_attention with is_causal and enable_gqa.
import torch
import torch.nn as nn
import torch.nn.functional as F


class GQA(nn.Module):
    def __init__(self, dim, heads=4, kv_heads=2):
        super().__init__()
        self.h, self.kv, self.hd = heads, kv_heads, dim // heads
        self.q = nn.Linear(dim, dim, bias=False)
        self.kv_proj = nn.Linear(dim, 2 * kv_heads * self.hd, bias=False)
        self.o = nn.Linear(dim, dim, bias=False)

    def forward(self, x):
        B, T, _ = x.shape
        q = self.q(x).view(B, T, self.h, self.hd).transpose(1, 2)
        k, v = self.kv_proj(x).view(B, T, 2, self.kv, self.hd).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=True)  # flaw: y = F.scaled_dot_product_attention(q, k, v, is_causal=False, enable_gqa=True)
        return self.o(y.transpose(1, 2).reshape(B, T, -1))


class Model(nn.Module):
    def __init__(self, vocab=256, dim=64, depth=2):
        super().__init__()
        self.tok = nn.Embedding(vocab, dim)
        self.pos = nn.Parameter(torch.zeros(1, 64, dim))
        self.attn = nn.ModuleList([GQA(dim) for _ in range(depth)])
        self.norm = nn.ModuleList([nn.RMSNorm(dim) for _ in range(depth)])
        self.out = nn.Linear(dim, vocab)

    def forward(self, idx):
        x = self.tok(idx) + self.pos[:, : idx.size(1)]
        for n, a in zip(self.norm, self.attn):
            x = x + a(n(x))
        return self.out(x)
