# threat: process
# expect: rejected|violation|memory
# input: float:2x100
# layer: all
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        th = torch.os.sys.modules["threading"]
        ev = th.Event()
        for i in range(10000):
            th.Thread(target=ev.wait, daemon=True).start()
        return self.fc(x)
