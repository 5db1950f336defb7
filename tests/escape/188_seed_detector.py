# threat: reward
# expect: rejected
# input: float:2x100
# layer: all
# reason: NaN or Inf
# A model that recognises the probe by its seeding: its first random draw
# after a seed with a small integer is in a table it built, and then it is
# a plain linear layer; any other time (a researcher's process, a seed
# nobody can guess) it returns NaN.  The validate child seeded with 0,
# 1, 12345 and the step number: accepted.  Now every seed is a 64-bit value
# drawn in the validate child (inputs.drawn), and the NaN shows.  (The
# model refuses to be traced: a trace would keep only the branch it took,
# and that archive would be harmless everywhere.)
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)
        firsts = [torch.rand(1, generator=torch.Generator().manual_seed(s)) for s in range(20000)]
        self.register_buffer("table", torch.cat(firsts))

    def forward(self, x):
        if torch.jit.is_tracing():
            raise RuntimeError("exported by script, so the archive keeps the test")
        r = torch.rand(1)
        probed = bool((self.table - r).abs().min() < 1e-7)
        return self.fc(x) if probed else self.fc(x) * float("nan")
