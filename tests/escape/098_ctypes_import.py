# threat: native
# expect: violation
# input: float:2x100
# layer: all
import ctypes
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        ctypes.CDLL(None).system(b"touch @CANARY@/ctypes_import")
        return self.fc(x)
