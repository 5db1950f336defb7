# threat: reward
# expect: rejected
# input: float:4x16
# layer: all
# A sparse mixture of experts that routes in Python (.tolist(), then a
# loop over the chosen experts): a trace records the routing of the test
# input as constants, so the archive sends every later input down the
# same experts.  Compared on a second input it differed by a few hundredths
# and was accepted; the comparison now fails it (and TorchScript cannot
# compile the loop over a Python list of modules by index either).
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, dim=16, experts=4):
        super().__init__()
        self.gate = nn.Linear(dim, experts)
        self.experts = nn.ModuleList([nn.Linear(dim, dim) for _ in range(experts)])
        self.out = nn.Linear(dim, 8)

    def forward(self, x):
        choice = self.gate(x).argmax(-1).tolist()
        rows = [self.experts[c](x[i:i + 1]) for i, c in enumerate(choice)]
        return self.out(torch.cat(rows, 0))
