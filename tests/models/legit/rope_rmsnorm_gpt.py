# input: tokens:2x16:512
import math
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, d: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotary(x, base: float = 10000.0):
    B, H, T, D = x.shape
    half = D // 2
    freqs = base ** (-torch.arange(0, half, dtype=x.dtype) / half)
    ang = torch.arange(T, dtype=x.dtype).unsqueeze(1) * freqs
    cos, sin = ang.cos(), ang.sin()
    x1, x2 = x[..., :half], x[..., half:]
    return torch.cat([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)


class Attention(nn.Module):
    def __init__(self, d: int, heads: int):
        super().__init__()
        self.h = heads
        self.qkv = nn.Linear(d, 3 * d, bias=False)
        self.o = nn.Linear(d, d, bias=False)

    def forward(self, x, mask: Optional[torch.Tensor] = None):
        B, T, C = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.h, C // self.h).permute(2, 0, 3, 1, 4)
        q, k = rotary(q), rotary(k)
        att = (q @ k.transpose(-1, -2)) / math.sqrt(C // self.h)
        att = att.masked_fill(torch.ones(T, T).triu(1).bool(), float("-inf"))
        y = F.softmax(att, dim=-1) @ v
        return self.o(y.transpose(1, 2).reshape(B, T, C))


class Model(nn.Module):
    def __init__(self, vocab=512, d=64, layers=2):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.blocks = nn.ModuleList()
        for _ in range(layers):
            self.blocks.append(nn.ModuleDict({"n1": RMSNorm(d), "attn": Attention(d, 4),
                                              "n2": RMSNorm(d),
                                              "mlp": nn.Sequential(nn.Linear(d, 4 * d), nn.SiLU(),
                                                                   nn.Linear(4 * d, d))}))
        self.norm = RMSNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)
        self.head.weight = self.emb.weight  # weight tying

    def forward(self, idx):
        x = self.emb(idx)
        for b in self.blocks:
            x = x + b["attn"](b["n1"](x))
            x = x + b["mlp"](b["n2"](x))
        return self.head(self.norm(x))
