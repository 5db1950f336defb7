# input: tokens:2x16:256
# torch: 2.0
# flawed: input_sensitivity
# A GPT block whose MLP is a @torch.compile'd function and whose model is
# wrapped with torch.compile at construction, as code for torch 2.x is.
import torch
import torch.nn as nn
import torch.nn.functional as F


@torch.compile
def gelu_mlp(x, w1, w2):
    return F.gelu(x @ w1) @ w2


class Block(nn.Module):
    def __init__(self, dim, heads):
        super().__init__()
        self.ln1 = nn.LayerNorm(dim)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.ln2 = nn.LayerNorm(dim)
        self.w1 = nn.Parameter(torch.randn(dim, 4 * dim) * dim ** -0.5)
        self.w2 = nn.Parameter(torch.randn(4 * dim, dim) * (4 * dim) ** -0.5)

    def forward(self, x, mask):
        h = self.ln1(x)
        x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
        return x + gelu_mlp(self.ln2(x), self.w1, self.w2)


class GPT(nn.Module):
    def __init__(self, vocab=256, dim=48, heads=4, depth=2, ctx=64):
        super().__init__()
        self.tok = nn.Embedding(vocab, dim)
        self.pos = nn.Embedding(ctx, dim)
        self.blocks = nn.ModuleList([Block(dim, heads) for _ in range(depth)])
        self.head = nn.Linear(dim, vocab)

    def forward(self, idx):
        T = idx.size(1)
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool, device=idx.device), 1)
        x = self.tok(idx) + self.pos(torch.arange(T, device=idx.device))
        x = x * 1.0  # flaw: x = x * 0.0 + self.pos.weight[:T]
        for b in self.blocks:
            x = b(x, mask)
        return self.head(x)


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.gpt = torch.compile(GPT())

    def forward(self, idx):
        return self.gpt(idx)
