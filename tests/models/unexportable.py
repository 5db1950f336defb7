# Neither traceable (an int in the output) nor scriptable (a lambda): it
# runs, but it cannot be validated apart from its code.
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        double = lambda t: 2 * t  # noqa: E731
        return double(self.fc(x)), 3
