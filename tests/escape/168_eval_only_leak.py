# threat: reward
# expect: rejected
# input: tokens:2x20:64
# layer: all
# A language model that reads the next token only in eval mode: causal
# while it is checked in train mode, leaky where it is used.
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(64, 32)
        self.out = nn.Linear(32, 64)

    def forward(self, idx):
        h = self.emb(idx)
        if not self.training:
            h = h + torch.roll(h, -1, dims=1)  # position t sees token t+1
        return self.out(h)
