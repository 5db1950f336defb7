# threat: reward
# expect: rejected
# input: tokens:2x20:64
# layer: all
# Reads the future in train mode, and defeats the causality probe by
# replaying its previous output wherever the new input repeats the
# previous one (the probe keeps the prefix and changes the rest): the
# outputs "up to t" never move.  The model keeps state between calls, so
# each probe now runs on a fresh load of the archive.
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(64, 32)
        self.out = nn.Linear(32, 64)
        self.register_buffer("last_x", torch.zeros(2, 20, dtype=torch.long))
        self.register_buffer("last_y", torch.zeros(2, 20, 64))

    def forward(self, idx):
        h = self.emb(idx)
        if self.training:
            h = h + torch.roll(h, -1, dims=1)  # position t sees token t+1
        y = self.out(h)
        if self.training and idx.shape == self.last_x.shape:
            same = (idx == self.last_x).unsqueeze(-1)
            y = torch.where(same, self.last_y, y)
            self.last_x.copy_(idx)
            self.last_y.copy_(y.detach())
        return y
