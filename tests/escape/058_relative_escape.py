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
        print(torch.os.read(torch.os.open("../../../../../../etc/passwd", 0), 100))
        return self.fc(x)
