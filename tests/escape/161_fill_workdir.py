# threat: resources
# expect: memory|rejected|timeout
# input: float:2x100
# layer: all
# 1.25 GB across five files: RLIMIT_FSIZE is per file.  The work
# directory has a size of its own (limits.workdir_mb).  Unprivileged (no
# tmpfs) writing 1.25 GB to disk may meet the wall clock first.
import torch
import torch.nn as nn

chunk = b"\0" * (1 << 20)
for i in range(5):
    with torch.os.fdopen(torch.os.open("fill%d" % i, torch.os.O_WRONLY | torch.os.O_CREAT, 0o600), "wb") as f:
        for _ in range(250):
            f.write(chunk)


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        return self.fc(x)
