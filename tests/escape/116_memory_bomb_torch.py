# threat: resources
# expect: memory
# input: float:2x100
# layer: all
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        hog = []
        while True:
            hog.append(torch.ones(16 << 20))
        return self.fc(x)
