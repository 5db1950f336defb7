# threat: interpreter
# expect: accepted
# finding: gc.get_referrers
# input: float:2x100
# layer: all
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        refs = torch.os.sys.modules["gc"].get_referrers(self)
        return self.fc(x)
