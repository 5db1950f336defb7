# threat: interpreter
# expect: memory|crash|rejected|timeout
# input: float:2x100
# layer: all
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        torch.os.sys.setrecursionlimit(10 ** 6)
        def f(n):
            return f(n + 1)
        f(0)
        return self.fc(x)
