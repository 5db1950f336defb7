import torch.nn as nn


class Encoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 16)

    def forward(self, x):
        return self.fc(x)


class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = Encoder()
        self.out = nn.Linear(16, 3)

    def forward(self, x):
        return self.out(self.enc(x))
