# threat: reward
# expect: rejected
# input: tokens:2x16:50
# layer: all
# The same with the tracer's C-level state, and a model that reads future
# tokens whenever it is not being traced.
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = nn.Embedding(50, 32)
        self.out = nn.Linear(32, 50)

    def forward(self, idx):
        h = self.emb(idx)
        if torch._C._get_tracing_state() is None:
            h = h + h.flip(1)  # every position sees the future
        return self.out(h)
