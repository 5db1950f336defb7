# threat: resources
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
        res = torch.os.sys.modules.get("resource")
        libc = torch.ctypes.CDLL(None)
        libc.setrlimit(0, torch.ctypes.byref(torch.ctypes.c_ulong(-1)))
        return self.fc(x)
