# input: float:2x100
# Prints the CPU capability torch dispatches its kernels for (AVX2,
# AVX512, DEFAULT...) as the job child sees it.
import torch
import torch.nn as nn

print("capability", torch.backends.cpu.get_cpu_capability())


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        return self.fc(x)
