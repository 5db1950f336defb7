# A custom autograd.Function (a parallel scan, as state-space models write
# them): the tracer records it as a Python call that TorchScript cannot
# save, and the TorchScript compiler does not take it either.  It runs and
# trains, but cannot be validated apart from its code.
import torch
import torch.nn as nn


class Scan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x.cumsum(-1)

    @staticmethod
    def backward(ctx, g):
        return g.flip(-1).cumsum(-1).flip(-1)


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        return Scan.apply(self.fc(x))
