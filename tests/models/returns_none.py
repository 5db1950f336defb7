# forward() returns nothing: the tracer fails, and the plain rerun says why.
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        self.fc(x)
