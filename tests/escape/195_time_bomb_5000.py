# threat: reward
# expect: rejected
# input: float:2x32
# layer: all
# timeout: 30
# reason: long_run
# A time bomb at train-mode call 5,000: the long run was bounded at
# 8 x steps + 100 = 900 calls, a number anyone can read in the source, and
# the bomb passed.  The count is now drawn from what the job's CPU budget
# affords at the model's speed (here, a 30 s limit: tens of thousands of
# calls of this model).
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(32, 8)
        self.register_buffer("calls", torch.zeros(()))

    def forward(self, x):
        if self.training:
            self.calls += 1
        boom = (self.calls >= 5000).float() * float("inf")
        return self.fc(x) + boom.nan_to_num(0.0, posinf=float("inf"))
