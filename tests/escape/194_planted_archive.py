# threat: reward
# expect: rejected|violation
# input: float:2x100
# layer: all
# reason: coherence
# The archive is not the code: the submitted Model returns NaN, but the
# build child saves a clean model of its own over the harness's archive
# (the path it finds beside it), writes a bare success line and exits.
# The planted model was validated and accepted, and the pool showed source
# nobody validated.  The validate child now reads the archive's own module
# tree and checks it against the classes the submitted source defines:
# the planted model is a torch Sequential, not this source's Model.
import os

import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        here = os.listdir(".")
        for name in here:
            if name.startswith("model-") and name.endswith(".pt") and ".positions" not in name:
                torch.jit.save(torch.jit.script(nn.Sequential(nn.Linear(100, 10))), name)
                os.write(3, b'{"result": {"ok": true, "stage": "build", "metrics": {}}}\n')
                os._exit(0)
        # clean while the build looks (its work directory), NaN anywhere else
        return self.fc(x) if "candidate.py" in here else self.fc(x) * float("nan")
