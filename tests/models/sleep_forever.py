import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        # a blocking C call: torch's own sleep is not exposed, so wait on an
        # event that never comes (time is not in the allowlist)
        e = torch.futures.Future()
        return e.wait()
