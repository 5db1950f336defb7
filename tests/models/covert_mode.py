# Reads the training flag where a look at its source cannot see it (the
# attribute's name is built at run time) and scales its eval-mode output a
# thousandfold.  Nothing marks it as mode-dependent, so the build tries the
# single train-mode trace first; compared with the model in eval mode it
# differs, and the archive gets both modes' traces after all: its eval()
# is the model's eval().
import torch.nn as nn


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        if not getattr(self, "tra" + "ining"):
            return self.fc(x) * 1000.0
        return self.fc(x)
