# threat: reward
# expect: rejected
# input: float:2x100
# layer: all
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        good = torch.jit.script(nn.Linear(100, 10))
        torch.jit.save(good, "model.pt")
        torch.os.write(3, b'{"result":{"ok":true,"stage":"build","metrics":{}}}\n')
        torch.os._exit(0)
        return self.fc(x)
