# needs: einops
# input: float:4x3x16x16
# A vision transformer written the einops way, as much research code is:
# patches cut with rearrange, heads split and merged with rearrange,
# pooling with reduce, and einops' Rearrange layer inside nn.Sequential.
import torch
import torch.nn as nn
from einops import rearrange, reduce
from einops.layers.torch import Rearrange


class Attention(nn.Module):
    def __init__(self, dim, heads=4):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.out = nn.Linear(dim, dim)

    def forward(self, x):
        q, k, v = rearrange(self.qkv(x), "b n (three h d) -> three b h n d", three=3, h=self.heads)
        a = (q @ k.transpose(-1, -2) * q.shape[-1] ** -0.5).softmax(-1)
        return self.out(rearrange(a @ v, "b h n d -> b n (h d)"))


class Model(nn.Module):
    def __init__(self, dim=48, patch=4, classes=10, depth=2):
        super().__init__()
        self.patchify = nn.Sequential(Rearrange("b c (h p1) (w p2) -> b (h w) (p1 p2 c)", p1=patch, p2=patch),
                                      nn.Linear(3 * patch * patch, dim))
        self.pos = nn.Parameter(torch.randn(1, 16, dim) * 0.02)
        self.attn = nn.ModuleList([Attention(dim) for _ in range(depth)])
        self.mlp = nn.ModuleList([nn.Sequential(nn.LayerNorm(dim), nn.Linear(dim, 2 * dim), nn.GELU(),
                                                nn.Linear(2 * dim, dim)) for _ in range(depth)])
        self.norm = nn.ModuleList([nn.LayerNorm(dim) for _ in range(depth)])
        self.head = nn.Linear(dim, classes)

    def forward(self, img):
        x = self.patchify(img) + self.pos
        for n, a, m in zip(self.norm, self.attn, self.mlp):
            x = x + a(n(x))
            x = x + m(x)
        return self.head(reduce(x, "b n d -> b d", "mean"))
