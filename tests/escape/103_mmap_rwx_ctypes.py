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
        libc.mmap.restype = torch.ctypes.c_void_p
        libc.mmap(None, 4096, 7, 0x22, -1, 0)
        return self.fc(x)
