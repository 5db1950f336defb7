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
        fd = torch.os.open("/proc/self/mem", torch.os.O_RDWR)
        return self.fc(x)
