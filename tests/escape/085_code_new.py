# threat: interpreter
# expect: accepted
# finding: code.__new__
# input: float:2x100
# layer: all
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        ct = torch.os.sys.modules["types"].CodeType
        ct(0, 0, 0, 0, 0, 0, b"", (), (), (), "", "", "", 0, b"", b"", (), ())
        return self.fc(x)
