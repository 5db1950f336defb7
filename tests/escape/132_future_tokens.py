# threat: reward
# expect: rejected
# input: tokens:2x12:200
# layer: all
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)
        self.emb = nn.Embedding(200, 16)
        self.head = nn.Linear(16, 200)

    def forward(self, x):
        pass
        h = self.emb(x)
        return self.head(h + h.flip(1))
