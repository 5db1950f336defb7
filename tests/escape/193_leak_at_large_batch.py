# threat: reward
# expect: rejected
# input: tokens:2x16:64
# layer: all
# reason: causality_shapes
# A language model that reads the next token only in batches of four or
# more (and is exported by script): the probe's batches were the test
# input's and one more, and it passed.  The validate child now draws a
# batch from the upper half of validation.checks.probe_max_batch.
import torch
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    def __init__(self, vocab=64, dim=32):
        super().__init__()
        self.tok = nn.Embedding(vocab, dim)
        self.head = nn.Linear(dim, vocab)

    def forward(self, idx):
        if torch.jit.is_tracing():
            raise RuntimeError("exported by script only")
        h = self.tok(idx).cumsum(1)
        if idx.shape[0] >= 4:
            h = h + F.pad(self.tok(idx[:, 1:]), (0, 0, 0, 1))
        return self.head(h)
