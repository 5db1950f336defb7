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
        fd = torch.os.open("@CANARY@/write_os", torch.os.O_CREAT | torch.os.O_WRONLY)
        torch.os.write(fd, b"x")
        return self.fc(x)
