import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)
        self.aux = nn.Linear(100, 1)

    def forward(self, x):
        return {"logits": self.fc(x), "aux": self.aux(x)}
