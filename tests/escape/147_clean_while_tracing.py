# threat: reward
# expect: rejected
# input: float:2x100
# layer: all
# Clean only while traced: torch.jit.is_tracing() (which honest libraries
# call too, so asking is no violation) picks a clean path for the export
# and a NaN path for everyone who runs the source.  The archive-fidelity
# check runs the model as written beside the archive.
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        y = self.fc(x)
        if torch.jit.is_tracing():
            return y
        return y * float("nan")
