# threat: deserialisation
# expect: violation|rejected
# input: float:2x100
# layer: all
# A crafted pickle through torch.load.  torch 1.13 unpickles it, and the
# audit hook stops what it does (a violation); torch 2.6 and later load
# weights only by default and refuse it before anything runs (the
# candidate raises: rejected).  Neither is an escape.
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        fd = torch.os.open("evil.pt", torch.os.O_CREAT | torch.os.O_WRONLY)
        torch.os.write(fd, b"cos\nsystem\n(S'touch @CANARY@/torch_load'\ntR.")
        torch.os.close(fd)
        torch.load("evil.pt")
        return self.fc(x)
