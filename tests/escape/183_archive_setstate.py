# threat: artifact
# expect: rejected
# input: float:2x100
# layer: all
# reason: archive refused before any load (setstate)
# The archive is replaced after the harness saved it with a scripted module
# whose __setstate__ maps a host file shared and writes it: TorchScript runs
# __setstate__ while torch.jit.load rebuilds the module, in whatever
# process loads it (the validate child; the researcher's own, through
# result.model).  Our reader refuses the archive before any load.
import os
from typing import Tuple

import torch
import torch.nn as nn


class Evil(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    @torch.jit.export
    def __getstate__(self) -> Tuple[torch.Tensor, bool]:
        return (self.fc.weight, self.training)

    @torch.jit.export
    def __setstate__(self, state: Tuple[torch.Tensor, bool]):
        torch.from_file("@CANARY@/setstate", True, 16).fill_(1)
        self.training = state[1]

    def forward(self, x):
        return self.fc(x)


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)
        self.register_buffer("pad", torch.zeros(2_000_000))  # validated after the build
        self.done = False

    def forward(self, x):
        if not self.done and not torch.jit.is_tracing():
            for name in os.listdir("."):
                if name.startswith("model-") and name.endswith(".pt") and ".positions" not in name:
                    torch.jit.save(torch.jit.script(Evil()), name)
                    self.done = True
        return self.fc(x)
