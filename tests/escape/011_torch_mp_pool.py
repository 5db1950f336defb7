# threat: process
# expect: violation|rejected
# input: float:2x100
# layer: all
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        torch.multiprocessing.Pool(2).map(abs, [1, 2])
        return self.fc(x)
