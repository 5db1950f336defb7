# Returns a tensor and a step count: the tracer refuses an int output,
# TorchScript's compiler takes it.  Exported by script, then validated.
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        return torch.relu(self.fc(x)), 3
