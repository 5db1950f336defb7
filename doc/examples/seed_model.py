# The seed document's "Example: Complete Flow", after the fix: token ids
# are embedded and pooled before the two Linear layers.
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
