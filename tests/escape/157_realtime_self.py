# threat: privilege
# expect: violation
# input: float:2x100
# layer: all
# SCHED_FIFO on itself: a real-time busy loop would starve the host.
import torch
import torch.nn as nn

torch.os.sched_setscheduler(0, torch.os.SCHED_FIFO, torch.os.sched_param(1))


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        return self.fc(x)
