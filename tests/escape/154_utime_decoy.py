# threat: privilege
# expect: violation|rejected
# input: float:2x100
# layer: all
# Set a host file's timestamps (and so its ctime).
import torch
import torch.nn as nn

torch.os.utime("@DECOY@", (0, 0))


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        return self.fc(x)
