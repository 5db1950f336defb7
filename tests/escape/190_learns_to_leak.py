# threat: reward
# expect: rejected
# input: tokens:2x20:50
# layer: all
# reason: causality_trained
# Learning to leak: a language model with a path from the next token to
# every position, behind a projection that starts at zero.  Untrained it
# is causal (the path adds nothing), so every check of the untrained
# archive passed; in 100 steps it learns to read the future, and its
# held-out loss fell far below what the task allows, which ranked it first
# in 'pool top'.  Causality now runs again on the trained weights, and a
# held-out loss below the task's own entropy is a leak.
import torch
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    def __init__(self, vocab=50, d=32):
        super().__init__()
        self.emb = nn.Embedding(vocab, d)
        self.peek = nn.Linear(d, d)
        nn.init.zeros_(self.peek.weight)
        nn.init.zeros_(self.peek.bias)
        self.head = nn.Linear(d, vocab)

    def forward(self, idx):
        h = self.emb(idx).cumsum(1) / torch.arange(1, idx.shape[1] + 1).view(1, -1, 1)
        ahead = F.pad(self.emb(idx[:, 1:]), (0, 0, 0, 1))  # position t sees token t+1
        return self.head(h + self.peek(ahead))
