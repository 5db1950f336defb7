# threat: artifact
# expect: rejected
# input: float:2x100
# layer: all
# reason: aten::from_file
# A model the harness exports by script (it refuses to be traced) with
# aten::from_file on a branch the validator never takes (batches above 64):
# every check would pass, and the researcher's process would write a host
# file the first time it used result.model on a larger batch.  The graph
# of every compiled function is walked before any method runs, untaken
# branches included.  (The file's tensor is used: TorchScript drops a
# from_file whose result nobody reads, as dead code.)
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
            y = y + torch.from_file("@CANARY@/from_file", True, 10).fill_(1)
        return y
