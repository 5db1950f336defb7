import torch.nn as nn


class Model(nn.Module):
    def __init__(self, width):
        super().__init__()
        self.fc = nn.Linear(100, width)

    def forward(self, x):
        return self.fc(x)
