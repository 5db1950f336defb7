# threat: filesystem
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
        libc = torch.ctypes.CDLL(None)
        fd = libc.open(b"@SECRET_FILE@", 0)
        buf = torch.ctypes.create_string_buffer(100)
        if fd < 0:
            raise OSError("open denied")
        libc.read(fd, buf, 100)
        print(buf.value)
        return self.fc(x)
