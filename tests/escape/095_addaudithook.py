# threat: interpreter
# expect: accepted
# finding: sys.addaudithook
# input: float:2x100
# layer: all
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        torch.os.sys.addaudithook(lambda *a: None)
        return self.fc(x)
