# input: tokens:2x16:256
# flawed: causality
# An xLSTM mLSTM cell: a matrix memory with exponential input gate, sigmoid
# forget gate and a stabiliser state, stepped over time.
import torch
import torch.nn as nn
import torch.nn.functional as F


class MLSTM(nn.Module):
    def __init__(self, dim, heads=2):
        super().__init__()
        self.h, self.hd = heads, dim // heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.gates = nn.Linear(dim, 2 * heads)
        self.ogate = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)

    def forward(self, x):
        B, T, D = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.h, self.hd).unbind(2)
        k = k / self.hd ** 0.5
        ig, fg = self.gates(x).view(B, T, 2, self.h).unbind(2)
        logf = F.logsigmoid(fg)
        C = x.new_zeros(B, self.h, self.hd, self.hd)
        n = x.new_zeros(B, self.h, self.hd)
        m = x.new_zeros(B, self.h)
        hs = []
        for t in range(T):
            m_new = torch.maximum(logf[:, t] + m, ig[:, t])
            i = torch.exp(ig[:, t] - m_new)[..., None]
            f = torch.exp(logf[:, t] + m - m_new)[..., None]
            C = f[..., None] * C + i[..., None] * v[:, t, :, :, None] * k[:, t, :, None, :]
            n = f * n + i * k[:, t]
            qt = q[:, t]  # flaw: qt = q[:, -1]
            num = torch.einsum("bhvk,bhk->bhv", C, qt)
            den = torch.maximum((n * qt).sum(-1).abs(), torch.exp(-m_new))[..., None]
            hs.append(num / den)
            m = m_new
        h = torch.stack(hs, dim=1).reshape(B, T, D)
        return self.out(torch.sigmoid(self.ogate(x)) * h)


class Model(nn.Module):
    def __init__(self, vocab=256, dim=32, depth=2):
        super().__init__()
        self.tok = nn.Embedding(vocab, dim)
        self.layers = nn.ModuleList([MLSTM(dim) for _ in range(depth)])
        self.norms = nn.ModuleList([nn.LayerNorm(dim) for _ in range(depth)])
        self.out = nn.Linear(dim, vocab)

    def forward(self, idx):
        x = self.tok(idx)
        for n, l in zip(self.norms, self.layers):
            x = x + l(n(x))
        return self.out(x)
