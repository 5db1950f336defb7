# threat: artifact
# expect: rejected
# input: float:2x100
# layer: all
# reason: aten::save
# A model the harness exports by script (it refuses to be traced) with
# aten::save on a branch the validator never takes (batches above 64):
# every check would pass, and the researcher's process would write a host
# file the first time it used result.model on a larger batch.  The graph
# of every compiled function is walked before any method runs, untaken
# branches included.
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        if torch.jit.is_tracing():
            raise RuntimeError("exported by script only")
        y = self.fc(x)
        if x.size(0) > 64:
            torch.save(y, "@CANARY@/save")
        return y
