# Returns a tensor and a step count: the tracer refuses an int output, so
# the tensors of the output are traced (export "trace (tensors only)").
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        return torch.relu(self.fc(x)), 3
