# threat: network
# expect: violation|rejected|timeout
# input: float:2x100
# layer: all
import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        st = torch.distributed.FileStore("@CANARY@/filestore", 1)
        st.set("k", "v")
        return self.fc(x)
