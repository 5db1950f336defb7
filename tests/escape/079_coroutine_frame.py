# threat: interpreter
# expect: violation
# input: float:2x100
# layer: all
# A mention is not an attack (the static check only warns by default):
# the case carries its capability through to an action, which the
# runtime layers must stop.
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        async def co():
            pass
        c = co()
        f = c.cr_frame
        c.close()
        print(f.f_builtins["open"]("@SECRET_FILE@").read())
        return self.fc(x)
