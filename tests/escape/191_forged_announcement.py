# threat: reward
# expect: rejected
# input: tokens:2x16:64
# layer: all
# reason: causality
# A forged "archive ready": a last-position language model (the nanoGPT
# convention: forward(idx, targets=None) returns the last position's
# logits) whose every-position form reads the next token.  Its causality is
# checked on that every-position archive, which the harness saves after
# the main one and then does not announce.  The model writes the
# announcement itself, right after the main archive is saved: validation
# started early, without the every-position archive, causality was
# skipped, and the verdict was accepted.  An every-position archive left by
# the build now makes validation run again, with it.
import os

import torch
import torch.nn as nn
import torch.nn.functional as F


class Model(nn.Module):
    def __init__(self, vocab=64, dim=32):
        super().__init__()
        self.tok = nn.Embedding(vocab, dim)
        self.head = nn.Linear(dim, vocab)
        self.announced = False

    def forward(self, idx, targets=None):
        if not self.announced and not torch.jit.is_tracing():
            if [n for n in os.listdir(".") if n.startswith("model-") and n.endswith(".pt")]:
                os.write(3, b'{"archive": "ready"}\n')
                self.announced = True
        h = self.tok(idx).cumsum(1)
        h = h + F.pad(self.tok(idx[:, 1:]), (0, 0, 0, 1))  # position t reads token t + 1
        logits = self.head(h)
        if targets is None:
            return logits[:, -1, :]
        return logits, F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
