import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        # reads address 0 through torch's own ctypes: the kernel sends SIGSEGV
        torch.ctypes.string_at(0)
        return self.fc(x)
