# threat: privilege
# expect: violation|rejected
# input: float:2x100
# layer: all
# The same through a file descriptor: an O_PATH open is not a read, so
# Landlock lets it through; fchown and fchmod on it must not work.
import torch
import torch.nn as nn

fd = torch.os.open("@DECOY@", torch.os.O_PATH)
torch.os.chmod(fd, 0o666)
torch.os.chown(fd, 0, 0)


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        return self.fc(x)
