# threat: reward
# expect: rejected
# input: tokens:2x20:64
# layer: all
# A language model that peeks one token ahead only near the end of the
# sequence: the causality check used to split at T//2 alone, so a leak
# after the midpoint passed.
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(64, 32)
        self.out = nn.Linear(32, 64)

    def forward(self, idx):
        h = self.emb(idx)
        peek = torch.zeros_like(h)
        peek[:, -2] = h[:, -1]  # position T-2 sees token T-1
        return self.out(h + peek)
