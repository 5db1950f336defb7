# Once its archive is saved and announced (the supervisor may then start
# validating it while this build child goes on), the model replaces the
# file with an archive of its own, a model that outputs zeros, from the
# forward pass the build's comparison makes (half a second later, so that
# the supervisor has read the file).  What the validate child judged must
# be what is delivered: the supervisor read the file once.  (Validated
# after the build, as before the early start, the zeros model is what was
# judged, and rejected: its output does not depend on its input.)
import os
import time

import torch
import torch.nn as nn


class Zeros(nn.Module):
    def forward(self, x):
        return torch.zeros(x.shape[0], 10)


def swap():
    for name in os.listdir("."):
        if name.startswith("model-") and name.endswith(".pt") and ".positions" not in name:
            torch.jit.save(torch.jit.script(Zeros()), name)


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        if self.calls == 2 and not torch.jit.is_tracing():
            time.sleep(0.5)  # the supervisor has read the file by now
            swap()
        return self.fc(x)
