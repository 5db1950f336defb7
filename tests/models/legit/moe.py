# input: float:8x32
import torch
import torch.nn as nn
import torch.nn.functional as F


class Expert(nn.Module):
    def __init__(self, d):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d, 2 * d), nn.SiLU(), nn.Linear(2 * d, d))

    def forward(self, x):
        return self.net(x)


class Model(nn.Module):
    def __init__(self, d=32, n_experts=4, k=2):
        super().__init__()
        self.gate = nn.Linear(d, n_experts)
        self.experts = nn.ModuleList([Expert(d) for _ in range(n_experts)])
        self.k = k
        self.out = nn.Linear(d, 8)

    def forward(self, x):
        scores = F.softmax(self.gate(x), dim=-1)
        topv, topi = scores.topk(self.k, dim=-1)
        stacked = torch.stack([e(x) for e in self.experts], dim=1)
        picked = torch.gather(stacked, 1, topi.unsqueeze(-1).expand(-1, -1, x.size(-1)))
        y = (picked * topv.unsqueeze(-1)).sum(dim=1)
        return self.out(y)
