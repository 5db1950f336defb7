# input: float:4x16x32
# A token-mixing MLP block with @torch.compile on its forward and
# torch.compile(...) around a submodule, as code written for torch 2.x
# does: compiling is an optimisation, not what the model is; in a job
# child it runs eagerly.
import torch
import torch.nn as nn


class Mixer(nn.Module):
    def __init__(self, tokens, dim):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.token_mlp = nn.Sequential(nn.Linear(tokens, 2 * tokens), nn.GELU(), nn.Linear(2 * tokens, tokens))
        self.norm2 = nn.LayerNorm(dim)
        self.channel_mlp = torch.compile(nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim)))

    @torch.compile(dynamic=True)
    def forward(self, x):
        x = x + self.token_mlp(self.norm1(x).transpose(1, 2)).transpose(1, 2)
        return x + self.channel_mlp(self.norm2(x))


class Model(nn.Module):
    def __init__(self, tokens=16, dim=32, depth=2):
        super().__init__()
        self.blocks = nn.Sequential(*[Mixer(tokens, dim) for _ in range(depth)])
        self.head = nn.Linear(dim, 10)

    def forward(self, x):
        return self.head(self.blocks(x).mean(1))
