# threat: supervisor
# expect: violation
# input: float:2x100
# layer: all
# A 2 MB report line with 150,000 keys: json_set() scanned every key on
# each insert, so parsing it hung the unconfined supervisor for 30 s.
import torch
import torch.nn as nn

line = b'{"result":{' + b",".join(b'"k%d":0' % i for i in range(150000)) + b"}}\n"
torch.os.write(3, line)


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(100, 10)

    def forward(self, x):
        return self.fc(x)
