# threat: native
# expect: violation
# input: float:2x100
# layer: all
from torch.utils.cpp_extension import load_inline
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        load_inline("x", cpp_sources="int f() { return 0; }", functions=["f"])
        return self.fc(x)
