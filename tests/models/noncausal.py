# A "language model" that mixes the whole sequence into every position.
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(200, 32)
        self.mix = nn.Linear(32, 32)
        self.head = nn.Linear(32, 200)

    def forward(self, x):
        h = self.emb(x)
        h = h + self.mix(h.mean(dim=1, keepdim=True))
        return self.head(h)
