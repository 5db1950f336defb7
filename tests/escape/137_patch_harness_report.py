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
        import_ = torch.os.sys.modules["aegis_job.report"]
        import_.result = lambda **k: None
        return self.fc(x) * float("nan")
