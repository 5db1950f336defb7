# threat: privilege
# expect: violation|rejected
# input: float:2x100
# layer: all
# Lock memory (root kept CAP_IPC_LOCK, so RLIMIT_MEMLOCK=0 did not hold).
import torch
import torch.nn as nn

libc = torch.ctypes.CDLL(None, use_errno=True)
buf = torch.ctypes.create_string_buffer(1 << 20)
if libc.mlock(buf, 1 << 20) != 0 and libc.mlockall(3) != 0:
    raise OSError(torch.ctypes.get_errno(), "mlock refused")


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        return self.fc(x)
