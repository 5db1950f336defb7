# threat: filesystem
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
        if libc.open(b"/proc/self/mem", 2) < 0:
            raise OSError("open denied")
        return self.fc(x)
