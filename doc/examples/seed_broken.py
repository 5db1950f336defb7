# The seed document's "Example: Complete Flow", as generated: token ids
# (batch, seq_len) go straight into nn.Linear(512, 768).
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer1 = nn.Linear(512, 768)
        self.layer2 = nn.Linear(768, 1000)

    def forward(self, x):
        # x shape: (batch, seq_len)
        x = self.layer1(x)  # Wrong! Expects (batch, 512)
        x = self.layer2(x)
        return x
