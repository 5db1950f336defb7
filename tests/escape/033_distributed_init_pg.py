# threat: network
# expect: violation
# input: float:2x100
# layer: all
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        torch.distributed.init_process_group("gloo", init_method="tcp://127.0.0.1:@PORT@", rank=1, world_size=2)
        return self.fc(x)
