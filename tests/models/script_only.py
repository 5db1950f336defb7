# Data-dependent control flow: a trace records the branch its input took,
# so the traced archive differs from the model on the second input (the
# test input, seed 0, says yes; the second, seed 1, says no).  TorchScript
# compiles both branches: exported by script, then validated.
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        y = torch.relu(self.fc(x))
        if bool(x[0, 0] > -1.3):
            return y
        return -y
