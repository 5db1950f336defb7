# threat: artifact
# expect: rejected
# input: float:2x100
# layer: all
# reason: profiler::
# A scripted model that enters the profiler (torch.autograd.profiler's
# record_function, whose TorchScript class calls profiler:: operators):
# process-wide state outside the tensors.  The operator is named, with the
# function it is in.
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        if torch.jit.is_tracing():
            raise RuntimeError("exported by script only")
        with torch.autograd.profiler.record_function("step"):
            y = self.fc(x)
        return y
