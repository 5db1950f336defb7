# threat: filesystem
# expect: rejected
# input: float:2x100
# layer: all
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        fd = torch.os.open("big.bin", torch.os.O_CREAT | torch.os.O_WRONLY)
        chunk = b"x" * (1 << 20)
        while True:
            torch.os.write(fd, chunk)
        return self.fc(x)
