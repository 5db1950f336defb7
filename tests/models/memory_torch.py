import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)

    def forward(self, x):
        hog = []
        while True:
            hog.append(torch.ones(4 * 1024 * 1024))
