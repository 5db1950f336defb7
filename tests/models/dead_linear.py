import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)
        self.unused = nn.Linear(10, 10)

    def forward(self, x):
        return self.fc(x)
