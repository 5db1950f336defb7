# input: float:4x15x8
import torch.nn as nn


class SequenceClassifier(nn.Module):
    def __init__(self, features=8, hidden=32, classes=4):
        super().__init__()
        self.lstm = nn.LSTM(features, hidden, batch_first=True, bidirectional=True)
        self.drop = nn.Dropout(0.2)
        self.fc = nn.Linear(2 * hidden, classes)

    def forward(self, x):
        out, (h, c) = self.lstm(x)
        return self.fc(self.drop(out[:, -1]))
