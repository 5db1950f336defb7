# Replaces the operator's reference model in its work directory with a far
# larger one before the validate child reads it, so that its own training
# memory looks small beside it (it is larger than the real reference).
# The supervisor puts the operator's files back before validating.
import torch
import torch.nn as nn


class Big(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 4000)
        self.out = nn.Linear(4000, 10)

    def forward(self, x):
        return self.out(self.fc(x))


torch.jit.save(torch.jit.script(Big()), "reference.pt")


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)
        self.unused = nn.Linear(10, 10)

    def forward(self, x):
        return self.fc(x)
