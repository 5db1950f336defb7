# threat: deserialisation
# expect: accepted
# finding: pickle.find_class
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
        numpy.save("evil.npy", numpy.array([len], dtype=object), allow_pickle=True)
        numpy.load("evil.npy", allow_pickle=True)
        return self.fc(x)
