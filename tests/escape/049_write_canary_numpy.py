# threat: filesystem
# expect: violation
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
        numpy.save("@CANARY@/numpy_save.npy", numpy.zeros(3))
        return self.fc(x)
