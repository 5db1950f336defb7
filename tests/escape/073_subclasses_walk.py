# threat: interpreter
# expect: violation
# input: float:2x100
# layer: all
# A mention is not an attack (the static check only warns by default):
# the case carries its capability through to an action, which the
# runtime layers must stop.
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        for c in ().__class__.__bases__[0].__subclasses__():
            if c.__name__ == "_wrap_close":  # os's own class: its globals are os
                c.__init__.__globals__["system"]("touch @CANARY@/subclasses")
        return self.fc(x)
