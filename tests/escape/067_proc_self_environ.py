# threat: environment
# expect: violation|rejected
# input: float:2x100
# layer: all
# The process reading about itself is no violation for the audit hook
# (issue 28); the kernel refuses /proc/self/environ, and the secret is in
# no job's environment anyway.
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        print(torch.os.read(torch.os.open("/proc/self/environ", 0), 4096))
        return self.fc(x)
