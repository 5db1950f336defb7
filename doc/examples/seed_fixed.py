# The seed document's fixed model, verbatim apart from this comment.
# (seed_model.py is the same model; kept separately as the quick-start example.)
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(1000, 512)
        self.layer1 = nn.Linear(512, 768)
        self.layer2 = nn.Linear(768, 1000)

    def forward(self, x):
        x = self.embed(x)   # (batch, seq_len, 512)
        x = x.mean(dim=1)   # (batch, 512)
        x = self.layer1(x)
        x = self.layer2(x)
        return x
