# threat: supervisor
# expect: violation
# input: float:2x100
# layer: all
# reason: a result with more metrics or checks than the protocol allows
# A build child that writes one 2.7 MB result line with 150,000 metric
# keys and exits: merging them into the verdict once cost the supervisor
# 40 s of CPU after the job had ended, outside every timer.  Over the
# protocol's cap it is tampering, found in linear time.
import json
import os

import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        return self.fc(x)


line = json.dumps({"result": {"ok": True, "stage": "build", "metrics": {"m%06d" % i: i for i in range(150000)}}})
os.write(3, line.encode() + b"\n")
os._exit(0)
