# threat: reward
# expect: rejected
# input: float:2x32
# layer: all
# An eval-mode forward that writes a buffer (here: remembers the last
# input and shifts the output by it): a deployed model whose answers
# depend on what it was asked before.
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(32, 8)
        self.register_buffer("memory", torch.zeros(8))

    def forward(self, x):
        y = self.fc(x) + self.memory
        if not self.training:
            self.memory.copy_(y.detach().mean(0))
        return y
