# threat: resource
# expect: rejected
# input: float:2x8
# layer: all
# 1,500 layers in one ParameterList: counted as 3 leaf modules before,
# under validation.architecture.max_layers (1,000).  Layers are now the
# modules holding parameters, and each numbered entry of a list.
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.weights = nn.ParameterList([nn.Parameter(torch.eye(8) * 0.999) for _ in range(1500)])
        self.out = nn.Linear(8, 4)

    def forward(self, x):
        for w in self.weights:
            x = x @ w
        return self.out(x)
