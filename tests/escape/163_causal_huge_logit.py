# threat: reward
# expect: rejected
# input: tokens:2x20:64
# layer: all
# One logit of 1e7 made the tolerance (relative to max |output|) about
# 1,000, hiding a leak of +30 from the whole future into every position.
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(64, 32)
        self.out = nn.Linear(32, 64)

    def forward(self, idx):
        y = self.out(self.emb(idx))
        future = (idx.flip(1).cumsum(1).flip(1) % 7).float().unsqueeze(-1) * 5.0
        big = torch.zeros_like(y)
        big[..., 0] = 1e7
        return y + future + big.detach()
