# input: tokens:2x16:256
# flawed: causality
# Rotary embeddings in complex form, as in the LLaMA reference code:
# frequencies as a complex tensor from torch.polar, queries and keys viewed
# as complex pairs, rotated by a multiply, viewed back as real.
import torch
import torch.nn as nn
import torch.nn.functional as F


def precompute_freqs_cis(dim, end, theta=10000.0):
    freqs = 1.0 / (theta ** (torch.arange(0, dim, 2)[: dim // 2].float() / dim))
    t = torch.arange(end).float()
    freqs = torch.outer(t, freqs)
    return torch.polar(torch.ones_like(freqs), freqs)


def apply_rotary(xq, xk, freqs_cis):
    xq_ = torch.view_as_complex(xq.float().reshape(*xq.shape[:-1], -1, 2))
    xk_ = torch.view_as_complex(xk.float().reshape(*xk.shape[:-1], -1, 2))
    f = freqs_cis.view(1, xq_.size(1), 1, xq_.size(-1))
    return torch.view_as_real(xq_ * f).flatten(3).type_as(xq), torch.view_as_real(xk_ * f).flatten(3).type_as(xk)


class Attention(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.h, self.hd = heads, dim // heads
        self.wq = nn.Linear(dim, dim, bias=False)
        self.wk = nn.Linear(dim, dim, bias=False)
        self.wv = nn.Linear(dim, dim, bias=False)
        self.wo = nn.Linear(dim, dim, bias=False)

    def forward(self, x, freqs_cis, mask):
        B, T, _ = x.shape
        q = self.wq(x).view(B, T, self.h, self.hd)
        k = self.wk(x).view(B, T, self.h, self.hd)
        v = self.wv(x).view(B, T, self.h, self.hd)
        q, k = apply_rotary(q, k, freqs_cis)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        s = (q @ k.transpose(-2, -1)) / self.hd ** 0.5
        s = s + mask  # flaw: s = s + torch.zeros_like(mask)
        return self.wo((F.softmax(s, dim=-1) @ v).transpose(1, 2).reshape(B, T, -1))


class Model(nn.Module):
    def __init__(self, vocab=256, dim=48, heads=4, depth=2, max_len=128):
        super().__init__()
        self.tok = nn.Embedding(vocab, dim)
        self.layers = nn.ModuleList([Attention(dim, heads) for _ in range(depth)])
        self.norms = nn.ModuleList([nn.LayerNorm(dim) for _ in range(depth)])
        self.out = nn.Linear(dim, vocab)
        self.register_buffer("freqs_cis", precompute_freqs_cis(dim // heads, max_len), persistent=False)

    def forward(self, idx):
        T = idx.size(1)
        mask = torch.full((T, T), float("-inf"), device=idx.device).triu(1)
        x = self.tok(idx)
        for norm, layer in zip(self.norms, self.layers):
            x = x + layer(norm(x), self.freqs_cis[:T], mask)
        return self.out(x)
