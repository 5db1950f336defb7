# input: float:2x100
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)
        print("building model with", sum(p.numel() for p in self.parameters()), "parameters")

    def forward(self, x):
        print("forward", tuple(x.shape))
        return self.fc(x)
