# threat: interpreter
# expect: accepted
# finding: sys._getframe
# input: float:2x100
# layer: all
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        f = torch.os.sys._getframe(0).f_back
        return self.fc(x)
