# threat: reward
# expect: rejected
# input: tokens:2x20:64
# layer: all
# A lookup table: the output ignores the input (zero times it), so it can
# memorise whatever it is trained on and "learn" any fixed batch.  The
# input-sensitivity check asks that the output depend on the input.
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.table = nn.Parameter(torch.zeros(20, 64))
        self.emb = nn.Embedding(64, 1)

    def forward(self, idx):
        return self.table.unsqueeze(0).expand(idx.shape[0], -1, -1) + 0.0 * self.emb(idx)
