# input: tokens:2x16:256
# flawed: causality
# RWKV-4-style time mixing: token shift with nn.ZeroPad2d, receptance, key
# and value, and the WKV recurrence with a per-channel decay and bonus,
# written as a loop over time with the numerically stable running maximum.
import torch
import torch.nn as nn


class TimeMix(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.shift = nn.ZeroPad2d((0, 0, 1, -1))  # flaw: self.shift = nn.ZeroPad2d((0, 0, -1, 1))
        self.mix_k = nn.Parameter(torch.full((dim,), 0.5))
        self.mix_v = nn.Parameter(torch.full((dim,), 0.5))
        self.mix_r = nn.Parameter(torch.full((dim,), 0.5))
        self.decay = nn.Parameter(torch.linspace(-1, 1, dim))
        self.first = nn.Parameter(torch.zeros(dim))
        self.key = nn.Linear(dim, dim, bias=False)
        self.value = nn.Linear(dim, dim, bias=False)
        self.recept = nn.Linear(dim, dim, bias=False)
        self.output = nn.Linear(dim, dim, bias=False)

    def forward(self, x):
        B, T, C = x.shape
        xx = self.shift(x)
        k = self.key(x * self.mix_k + xx * (1 - self.mix_k))
        v = self.value(x * self.mix_v + xx * (1 - self.mix_v))
        r = torch.sigmoid(self.recept(x * self.mix_r + xx * (1 - self.mix_r)))
        w = -torch.exp(self.decay)
        u = self.first
        aa = x.new_zeros(B, C)
        bb = x.new_zeros(B, C)
        pp = x.new_full((B, C), -1e38)
        out = []
        for t in range(T):
            kt, vt = k[:, t], v[:, t]
            ww = u + kt
            p = torch.maximum(pp, ww)
            e1, e2 = torch.exp(pp - p), torch.exp(ww - p)
            out.append((e1 * aa + e2 * vt) / (e1 * bb + e2))
            ww = pp + w
            p = torch.maximum(ww, kt)
            e1, e2 = torch.exp(ww - p), torch.exp(kt - p)
            aa, bb, pp = e1 * aa + e2 * vt, e1 * bb + e2, p
        return self.output(r * torch.stack(out, dim=1))


class Model(nn.Module):
    def __init__(self, vocab=256, dim=48, depth=2):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        self.ln = nn.ModuleList([nn.LayerNorm(dim) for _ in range(2 * depth)])
        self.att = nn.ModuleList([TimeMix(dim) for _ in range(depth)])
        self.ffn = nn.ModuleList([nn.Sequential(nn.Linear(dim, 4 * dim), nn.ReLU(), nn.Linear(4 * dim, dim)) for _ in range(depth)])
        self.head = nn.Linear(dim, vocab)

    def forward(self, idx):
        x = self.emb(idx)
        for i, (a, f) in enumerate(zip(self.att, self.ffn)):
            x = x + a(self.ln[2 * i](x))
            x = x + f(self.ln[2 * i + 1](x)) ** 2 / 4
        return self.head(x)
