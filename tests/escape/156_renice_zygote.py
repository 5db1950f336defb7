# threat: privilege
# expect: violation
# input: float:2x100
# layer: all
# Renice the zygote, the parent of every later job child: in serve and
# batch the next candidate would inherit nice 19.
import torch
import torch.nn as nn

torch.os.setpriority(torch.os.PRIO_PROCESS, torch.os.getppid(), 19)


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        return self.fc(x)
