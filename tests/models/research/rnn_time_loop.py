# input: tokens:2x16:256
# flawed: causality
# A character-level RNN written as a loop over time, as papers' reference
# code is: the cell is applied once per position and the hidden state
# carried in a Python variable.  Traced, the loop unrolls at the traced
# length.
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, vocab=256, dim=48):
        super().__init__()
        self.emb = nn.Embedding(vocab, dim)
        self.cell = nn.GRUCell(dim, dim)
        self.head = nn.Linear(dim, vocab)

    def forward(self, idx):
        B, T = idx.shape
        x = self.emb(idx)
        h = x.new_zeros(B, x.size(-1))
        outs = []
        for t in range(T):
            inp = x[:, t]  # flaw: inp = x[:, min(t + 1, T - 1)]
            h = self.cell(inp, h)
            outs.append(h)
        return self.head(torch.stack(outs, dim=1))
