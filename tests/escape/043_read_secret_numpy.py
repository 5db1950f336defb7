# threat: filesystem
# expect: violation|rejected
# input: float:2x100
# layer: all
import numpy
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        print(numpy.fromfile("@SECRET_FILE@", dtype=numpy.uint8).tobytes())
        return self.fc(x)
