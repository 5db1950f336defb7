# input: tokens:2x16:256
# flawed: causality
# A gated linear recurrence h_t = a_t * h_{t-1} + b_t computed by a
# parallel scan in a custom torch.autograd.Function with its own backward
# (the reverse scan), the way linear-RNN and state-space papers ship it.
import torch
import torch.nn as nn
import torch.nn.functional as F


def scan(a, b):
    # h_t = sum_{s<=t} (prod_{s<r<=t} a_r) b_s, in log space for a in (0, 1)
    la = torch.cumsum(torch.log(a), dim=1)
    w = torch.exp(-la) * b
    return torch.exp(la) * torch.cumsum(w, dim=1)  # flaw: return torch.exp(la) * torch.cumsum(w.flip(1), dim=1).flip(1)


class LinearScan(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b):
        h = scan(a, b)
        ctx.save_for_backward(a, h)
        return h

    @staticmethod
    def backward(ctx, gh):
        a, h = ctx.saved_tensors
        # gb_t = sum_{t'>=t} (prod_{t<r<=t'} a_r) gh_t' : the scan backwards
        a_next = torch.cat([a[:, 1:], torch.ones_like(a[:, :1])], dim=1)
        gb = scan(a_next.flip(1), gh.flip(1)).flip(1)
        h_prev = torch.cat([torch.zeros_like(h[:, :1]), h[:, :-1]], dim=1)
        return gb * h_prev, gb


class Model(nn.Module):
    def __init__(self, vocab=256, dim=48):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        self.gate = nn.Linear(dim, dim)
        self.inp = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, vocab)

    def forward(self, idx):
        x = self.emb(idx)
        a = torch.sigmoid(self.gate(x)) * 0.9 + 0.05
        h = LinearScan.apply(a, (1 - a) * self.inp(x))
        return self.out(F.gelu(h) + x)
