# threat: network
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
        fd = libc.socket(2, 1, 0)
        addr = bytes([2, 0, @PORT@ >> 8, @PORT@ & 255, 127, 0, 0, 1]) + bytes(8)
        libc.connect(fd, addr, 16)
        return self.fc(x)
