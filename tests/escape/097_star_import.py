# threat: interpreter
# expect: accepted|violation
# input: float:2x100
# layer: all
# A mention is not an attack (the static check only warns by default):
# the case carries its capability through to an action, which the
# runtime layers must stop.
from torch import *
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        pass  # nothing: a star import is no attack
        return self.fc(x)
