import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 2)
        # static check forbids 'signal'; this model just spins in C code
        # (a huge matmul loop) so SIGTERM handling would not help it
        self.big = nn.Linear(2048, 2048)

    def forward(self, x):
        import torch
        y = torch.ones(2048, 2048)
        while True:
            y = self.big(y)
