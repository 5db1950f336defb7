# threat: deserialisation
# expect: violation
# input: float:2x100
# layer: all
import pickle
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        pickle.loads(b"cos\nsystem\n(S'true'\ntR.")
        return self.fc(x)
