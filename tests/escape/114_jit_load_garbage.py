# threat: deserialisation
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
        fd = torch.os.open("evil.jit", torch.os.O_CREAT | torch.os.O_WRONLY)
        torch.os.write(fd, b"PK\x03\x04garbage")
        torch.os.close(fd)
        torch.jit.load("evil.jit")
        return self.fc(x)
