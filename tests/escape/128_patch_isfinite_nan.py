# threat: reward
# expect: rejected
# input: float:2x100
# layer: all
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        torch.isfinite = lambda t: torch.ones_like(t, dtype=torch.bool)
        torch.Tensor.isnan = lambda s: torch.zeros_like(s, dtype=torch.bool)
        return self.fc(x) * float("nan")
