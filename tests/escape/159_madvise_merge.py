# threat: privilege
# expect: violation|rejected
# input: float:2x100
# layer: all
# MADV_MERGEABLE: ask KSM to merge its pages with the host's (a side
# channel across processes).
import mmap

import torch
import torch.nn as nn

m = torch.os.sys.modules["mmap"] if "mmap" in torch.os.sys.modules else mmap
area = m.mmap(-1, 1 << 20)
area.madvise(m.MADV_MERGEABLE)


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        return self.fc(x)
