# input: float:16x8
# flawed: eval_state
# A Kolmogorov-Arnold network layer: each edge carries a learnable
# function, a SiLU base plus a B-spline on a fixed grid (Cox-de Boor
# recursion), as in the efficient KAN reimplementations.
import torch
import torch.nn as nn
import torch.nn.functional as F


class KANLinear(nn.Module):
    def __init__(self, fin, fout, grid=5, order=3, lo=-2.0, hi=2.0):
        super().__init__()
        h = (hi - lo) / grid
        g = torch.arange(-order, grid + order + 1).float() * h + lo
        self.register_buffer("grid", g.expand(fin, -1).contiguous())
        self.order = order
        self.base = nn.Linear(fin, fout)
        self.spline = nn.Parameter(torch.randn(fout, fin, grid + order) * 0.1)

    def bsplines(self, x):
        g = self.grid
        x = x.unsqueeze(-1)
        b = ((x >= g[:, :-1]) & (x < g[:, 1:])).to(x.dtype)
        for k in range(1, self.order + 1):
            b = (x - g[:, : -(k + 1)]) / (g[:, k:-1] - g[:, : -(k + 1)]) * b[..., :-1] \
                + (g[:, k + 1:] - x) / (g[:, k + 1:] - g[:, 1:-k]) * b[..., 1:]
        return b

    def forward(self, x):
        s = torch.einsum("bik,oik->bo", self.bsplines(x), self.spline)
        return self.base(F.silu(x)) + s


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.l1 = KANLinear(8, 16)
        self.l2 = KANLinear(16, 4)
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))

    def forward(self, x):
        x = torch.tanh(x)  # flaw: x = torch.where(self.calls.add_(1) > 40, torch.full_like(x, float("nan")), torch.tanh(x))
        return self.l2(torch.tanh(self.l1(x)))
