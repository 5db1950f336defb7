# threat: process
# expect: violation
# input: float:2x100
# layer: all
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        import_ = torch.os.sys.modules["_posixsubprocess"]
        r, w = torch.os.pipe()
        import_.fork_exec([b"/usr/bin/touch", b"@CANARY@/fork_exec"], [b"/usr/bin/touch"], True, (), None, None, -1, -1, -1, -1, -1, -1, r, w, True, False, -1, None, None, -1, -1, None, False)
        return self.fc(x)
