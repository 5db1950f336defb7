# threat: interpreter
# expect: accepted
# finding: gc.get_objects
# input: float:2x100
# layer: all
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        objs = torch.os.sys.modules["gc"].get_objects()
        return self.fc(x)
