# threat: privilege
# expect: violation|rejected
# input: float:2x100
# layer: all
# Change the mode of a host file (as root, with CAP_FOWNER, any file under
# /usr/lib could be made 0666).  The decoy is owned by the runner: when it
# runs unprivileged, the job's own uid owns it, so only seccomp stands in
# the way; as root the job's uid owns nothing.
import torch
import torch.nn as nn

torch.os.chmod("@DECOY@", 0o666)


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        return self.fc(x)
