# input: float:8x32
# flawed: input_sensitivity
# A residual MLP kept in bfloat16, parameters and activations, as
# memory-bound training code does; the input is cast on the way in.
import torch
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    def __init__(self, dim=32, hidden=128, depth=3):
        super().__init__()
        self.layers = nn.ModuleList([nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim)) for _ in range(depth)])
        self.out = nn.Linear(dim, 10)
        self.to(torch.bfloat16)

    def forward(self, x):
        h = x.to(torch.bfloat16)  # flaw: h = torch.ones_like(x, dtype=torch.bfloat16)
        for layer in self.layers:
            h = h + layer(h)
        return self.out(h).float()
