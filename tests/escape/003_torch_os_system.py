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
        torch.os.system("touch @CANARY@/torch_os_system")
        return self.fc(x)
