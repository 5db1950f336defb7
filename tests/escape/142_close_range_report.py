# threat: reward
# expect: violation
# input: float:2x100
# layer: all
# closerange() over every fd, the report channel included.
import torch
import torch.nn as nn

torch.os.closerange(3, 1024)


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        return self.fc(x)
