# threat: network
# expect: violation
# input: float:2x100
# layer: all
import urllib.request
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        urllib.request.urlopen("http://127.0.0.1:@PORT@/")
        return self.fc(x)
