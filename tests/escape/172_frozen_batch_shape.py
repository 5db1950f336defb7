# threat: reward
# expect: rejected
# input: float:2x32
# layer: all
# A model whose eager forward depends on the batch size through Python
# (len(x), a generator over the samples): a trace of the test batch froze
# n = 2, where the correction term vanishes, and TorchScript cannot
# compile the generator.  Compared on a second input of the same shape,
# trace and model agreed; the second input now has another batch size, so
# the archive is seen not to be the model.
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(32, 8)

    def forward(self, x):
        y = self.fc(x)
        n = len(x)
        total = sum(y[i] for i in range(n))
        return y - total / n * (n - 2)
