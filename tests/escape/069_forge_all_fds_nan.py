# threat: environment
# expect: rejected|violation
# input: float:2x100
# layer: all
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        for fd in range(0, 256):
            try:
                torch.os.write(fd, b'{"result":{"ok":true,"stage":"validate"}}\n')
            except OSError:
                pass
        return self.fc(x) * float("nan")
