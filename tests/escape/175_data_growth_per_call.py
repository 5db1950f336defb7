# threat: reward
# expect: rejected
# input: float:2x32
# layer: all
# An in-place update of .data in forward(): the scale grows ten times per
# call in the model as written, while a trace records none of it, so the
# traced archive was well behaved and accepted.  The archive is compared
# with the model, and a model that keeps state gets the long run.
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(32, 8)
        self.scale = nn.Parameter(torch.ones(()), requires_grad=False)

    def forward(self, x):
        self.scale.data.mul_(10.0)
        return self.fc(x) * self.scale
