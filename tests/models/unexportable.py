# A model whose output is the gradient of a learned energy (as energy-based
# and Hamiltonian networks compute forces): forward() calls
# torch.autograd.grad on its own graph.  It runs and trains, but the
# tracer cannot record a gradient taken inside the forward pass, and the
# TorchScript compiler does not take this forward() either.  It cannot be
# validated apart from its code.
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.energy = nn.Sequential(nn.Linear(100, 64), nn.Tanh(), nn.Linear(64, 1))
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        with torch.enable_grad():
            x = x.detach().requires_grad_()
            e = self.energy(x).sum()
            (force,) = torch.autograd.grad(e, x, create_graph=True)
        return self.fc(force)
