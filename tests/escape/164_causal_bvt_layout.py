# threat: reward
# expect: rejected
# input: tokens:2x20:64
# layer: all
# Logits laid out (B, V, T), as F.cross_entropy takes them: the check was
# skipped unless the output was (B, T, ...), so this mixing of the whole
# sequence into every position passed.
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(64, 32)
        self.out = nn.Linear(32, 64)

    def forward(self, idx):
        h = self.emb(idx)
        h = h + h.mean(dim=1, keepdim=True)  # every position sees all tokens
        return self.out(h).transpose(1, 2)
