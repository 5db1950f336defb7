# threat: interpreter
# expect: accepted|violation
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
        s = "{0.__class__.__init__.__globals__}".format(self)
        # a format string reads, it cannot call: the most it can show is
        # what the process holds, and no secret is in it
        print(s[:200])
        return self.fc(x)
