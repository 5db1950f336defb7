# threat: state
# expect: rejected
# input: float:2x32
# layer: all
# reason: long_run
# A time bomb under --no-train: a train-mode call counter turns the output
# to Inf at call 300.  Without training the long run never ran, and the checks make a
# few dozen calls: accepted.  The long run now runs with and without
# training, for a length drawn from the job's remaining CPU budget.
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(32, 8)
        self.register_buffer("calls", torch.zeros(()))

    def forward(self, x):
        if self.training:  # eval-mode calls change nothing
            self.calls += 1
        boom = (self.calls >= 300).float() * float("inf")
        return self.fc(x) + boom.nan_to_num(0.0, posinf=float("inf"))
