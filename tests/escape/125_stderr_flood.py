# threat: resources
# expect: rejected
# input: float:2x100
# layer: all
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        w = torch.os.write
        line = b"e" * 65536
        while True:
            w(2, line)
        return self.fc(x)
