# threat: interpreter
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
        try:
            1 / 0
        except ZeroDivisionError as e:
            f = e.__traceback__.tb_frame
        return self.fc(x)
