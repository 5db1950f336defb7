# input: tokens:2x12:100
from collections import OrderedDict

import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, vocab=100, d=32, h=4):
        super().__init__()
        self.h = h
        self.emb = nn.Embedding(vocab, d)
        self.proj = nn.ModuleDict(OrderedDict(q=nn.Linear(d, d), k=nn.Linear(d, d), v=nn.Linear(d, d)))
        self.out = nn.Linear(d, vocab)

    def forward(self, x):
        e = self.emb(x)
        B, T, D = e.shape
        q, k, v = (self.proj[n](e).view(B, T, self.h, D // self.h) for n in "qkv")
        s = torch.einsum("bthd,bshd->bhts", q, k) / (D // self.h) ** 0.5
        s = s.masked_fill(torch.triu(torch.ones(T, T, dtype=torch.bool), 1), -1e9)
        y = torch.einsum("bhts,bshd->bthd", s.softmax(-1), v).reshape(B, T, D)
        return self.out(y)
