# input: tokens:2x16:128
import torch
import torch.nn as nn
import torch.nn.functional as F


class LinearAttention(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.q = nn.Linear(d, d)
        self.k = nn.Linear(d, d)
        self.v = nn.Linear(d, d)

    def forward(self, x):
        q = F.elu(self.q(x)) + 1
        k = F.elu(self.k(x)) + 1
        v = self.v(x)
        kv = torch.einsum("btd,bte->btde", k, v).cumsum(dim=1)
        z = 1.0 / (torch.einsum("btd,btd->bt", q, k.cumsum(dim=1)) + 1e-6)
        return torch.einsum("btd,btde,bt->bte", q, kv, z)


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(128, 32)
        self.attn = LinearAttention(32)
        self.head = nn.Linear(32, 128)

    def forward(self, x):
        h = self.emb(x)
        return self.head(h + self.attn(h))
