# threat: interpreter
# expect: accepted
# finding: compile
# input: float:2x100
# layer: all
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        compile("1", "x", "eval")
        return self.fc(x)
