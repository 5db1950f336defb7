# threat: process
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
        torch.os.posix_spawn("/usr/bin/touch", ["touch", "@CANARY@/posix_spawn"], {})
        return self.fc(x)
