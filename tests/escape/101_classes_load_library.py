# threat: native
# expect: violation
# input: float:2x100
# layer: python
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        torch.classes.load_library("/usr/lib/x86_64-linux-gnu/libc.so.6")
        return self.fc(x)
