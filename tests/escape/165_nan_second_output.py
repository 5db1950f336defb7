# threat: reward
# expect: rejected
# input: float:2x100
# layer: all
# Finiteness used to be checked on the first output tensor only: a finite
# summary first (what training and the checks used) hid a NaN second.
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        y = self.fc(x)
        return y.mean(dim=1), y * float("nan")
