# threat: native
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
        libc = torch.ctypes.CDLL(None)
        libc.syscall(425, 8, 0)
        return self.fc(x)
