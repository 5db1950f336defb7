# threat: interpreter
# expect: violation
# input: float:2x100
# layer: all
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        for c in ().__class__.__bases__[0].__subclasses__():
            pass
        return self.fc(x)
