# threat: native
# expect: violation|rejected
# input: float:2x100
# layer: all
# timeout: 20
# torch.compile is the identity in a job child (it runs eagerly); a
# candidate that goes around it to torch._dynamo with the inductor backend
# asks for generated C++ built by a compiler in a subprocess, and a cache
# outside its work directory.  Whatever part of that torch gets to, the
# audit hook and the kernel stop (no exec, no write outside the work
# directory): never accepted with compiled native code, never an escape.
# On torch 1.13, which has no dynamo, the candidate fails to build.
import torch
import torch.nn as nn


def f(x):
    return torch.sin(x) * 2 + 1


g = torch._dynamo.optimize("inductor")(f)
g(torch.randn(8, 8))


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        return self.fc(x)
