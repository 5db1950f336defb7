# threat: supervisor
# expect: violation
# input: float:2x100
# layer: all
# 20 MB of seccomp lines on the report fd: they used to become a 95 MB
# result and 1.15 GB of supervisor memory.  Kept: a hundred violations
# and the fact that the report overflowed.
import torch
import torch.nn as nn

chunk = b'{"seccomp":{"nr":59,"arch":3221225534}}\n' * 25000
for _ in range(20):
    torch.os.write(3, chunk)


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        return self.fc(x)
