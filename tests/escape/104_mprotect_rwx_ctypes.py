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
        buf = torch.ctypes.create_string_buffer(8192)
        addr = torch.ctypes.addressof(buf) & ~4095
        libc.mprotect(torch.ctypes.c_void_p(addr), 4096, 7)
        return self.fc(x)
