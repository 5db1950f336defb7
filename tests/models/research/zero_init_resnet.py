# input: float:4x3x16x16
# flawed: input_sensitivity
# A ResNet whose residual branches end in a BatchNorm with gamma = 0 (the
# "zero_init_residual" recipe) and whose classifier starts at zero: the
# untrained network's output is the same for every input, by design.
import torch
import torch.nn as nn
import torch.nn.functional as F


class Basic(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.b1 = nn.BatchNorm2d(c)
        self.c2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.b2 = nn.BatchNorm2d(c)
        nn.init.zeros_(self.b2.weight)

    def forward(self, x):
        return F.relu(x + self.b2(self.c2(F.relu(self.b1(self.c1(x))))))


class Model(nn.Module):
    def __init__(self, classes=10, c=16):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU())
        self.blocks = nn.Sequential(Basic(c), Basic(c), Basic(c))
        self.fc = nn.Linear(c, classes)
        nn.init.zeros_(self.fc.weight)
        nn.init.zeros_(self.fc.bias)

    def forward(self, x):
        h = self.blocks(self.stem(x))
        h = h.mean((2, 3))  # flaw: h = h.mean((2, 3)) * 0 + self.fc.bias.new_ones(h.size(1))
        return self.fc(h)
