# threat: process
# expect: violation
# input: float:2x100
# layer: all
# The validate child may start on the announced archive while the build
# child still runs (the comparison calls forward() again).  From there the
# candidate tries to kill every other process of its uid, the validate
# child among them, to turn its rejection into a sandbox error: seccomp
# lets a job signal only itself (and Landlock scopes signals to its own
# domain), so the first kill is a violation.
import time

import torch
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        if self.calls == 2:
            time.sleep(0.3)  # the validate child is running now
            me = torch.os.getpid()
            for pid in range(2, 1 << 16):
                if pid != me:
                    try:
                        torch.os.kill(pid, 9)
                    except OSError:
                        pass
        return self.fc(x) * 0.0  # rejected by validation: it ignores its input
