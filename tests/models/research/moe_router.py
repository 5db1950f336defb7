# input: tokens:2x16:256
# flawed: causality
# A sparse mixture of experts, Switch/Mixtral style: a router picks the top
# two experts per token, tokens are gathered per expert with index
# operations, results scattered back with index_add_ and weighted.
import torch
import torch.nn as nn
import torch.nn.functional as F


class MoE(nn.Module):
    def __init__(self, dim, n_exp=4, k=2):
        super().__init__()
        self.k = k
        self.router = nn.Linear(dim, n_exp, bias=False)
        self.experts = nn.ModuleList([nn.Sequential(nn.Linear(dim, 2 * dim), nn.SiLU(), nn.Linear(2 * dim, dim)) for _ in range(n_exp)])

    def forward(self, x):
        B, T, D = x.shape
        flat = x.reshape(-1, D)
        logits = self.router(flat)  # flaw: logits = self.router(x.mean(1, keepdim=True).expand(B, T, D).reshape(-1, D))
        w, idx = logits.softmax(-1).topk(self.k, dim=-1)
        w = w / w.sum(-1, keepdim=True)
        out = torch.zeros_like(flat)
        for e, expert in enumerate(self.experts):
            tok, slot = (idx == e).nonzero(as_tuple=True)
            out.index_add_(0, tok, expert(flat[tok]) * w[tok, slot, None])
        return out.view(B, T, D)


class Model(nn.Module):
    def __init__(self, vocab=256, dim=48):
        super().__init__()
        self.tok = nn.Embedding(vocab, dim)
        self.conv = nn.Conv1d(dim, dim, 3, padding=2)
        self.moe = MoE(dim)
        self.norm = nn.LayerNorm(dim)
        self.out = nn.Linear(dim, vocab)

    def forward(self, idx):
        x = self.tok(idx)
        T = x.size(1)
        x = x + self.conv(x.transpose(1, 2))[..., :T].transpose(1, 2)
        return self.out(x + self.moe(self.norm(x)))
