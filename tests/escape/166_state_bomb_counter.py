# threat: reward
# expect: rejected
# input: float:2x32
# layer: all
# A time bomb: a call counter in a buffer, counting train-mode calls only
# (so an eval-mode call changes nothing), turns the output to Inf at call
# 400, past the 100 training steps.  Accepted before: nothing called the
# archive that often.  A model that keeps state between calls (other than
# batch-norm statistics) now gets a long run, of a length drawn by the
# validate child, after its training.
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
        boom = (self.calls >= 400).float() * float("inf")
        return self.fc(x) + boom.nan_to_num(0.0, posinf=float("inf"))
