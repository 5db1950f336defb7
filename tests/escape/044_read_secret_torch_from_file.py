# threat: filesystem
# expect: violation|rejected
# input: float:2x100
# layer: all
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        print(bytes(torch.from_file("@SECRET_FILE@", size=16, dtype=torch.uint8).tolist()))
        return self.fc(x)
