# A memoriser: a free table of logits per position, and the tokens only
# through a vanishing term (so its output does depend on its input).  It
# can learn the targets' marginal at every position, never which token
# follows which: its held-out loss stays at the marginal's.
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self, vocab=1000, length=20):
        super().__init__()
        self.table = nn.Parameter(torch.zeros(length, vocab))
        self.emb = nn.Embedding(vocab, vocab)

    def forward(self, idx):
        # scaled, so that Adam at 1e-3 moves the table as fast as a layer learns
        return 50.0 * self.table[: idx.shape[1]].unsqueeze(0) + 1e-3 * self.emb(idx)
