# threat: reward
# expect: rejected
# input: float:2x32
# layer: all
# Finite in train mode, NaN in eval mode (where a deployed model runs).
# Validation ran in train mode only, and a traced archive baked train
# mode in, so eval() did nothing.
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(32, 8)

    def forward(self, x):
        y = self.fc(x)
        if not self.training:
            y = y * float("nan")
        return y
