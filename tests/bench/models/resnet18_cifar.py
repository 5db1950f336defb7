# A ResNet-18 for 32x32 images (He et al., "Deep Residual Learning for
# Image Recognition", arXiv:1512.03385), in the CIFAR form research code
# uses: a 3x3 stem without max-pooling, four stages of two basic blocks
# (64, 128, 256, 512 channels), 4x4 average pooling, 10 classes.  11.2M
# parameters.  Written for the benchmark: make bench measures it against
# the same steps in plain PyTorch (convolutions must keep oneDNN's JIT).
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.skip = nn.Sequential()
        if stride != 1 or cin != cout:
            self.skip = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        y = F.relu(self.b1(self.c1(x)))
        y = self.b2(self.c2(y))
        return F.relu(y + self.skip(x))


class Model(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Conv2d(3, 64, 3, 1, 1, bias=False)
        self.bn = nn.BatchNorm2d(64)
        stages, cin = [], 64
        for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            stages += [Block(cin, cout, stride), Block(cout, cout, 1)]
            cin = cout
        self.stages = nn.Sequential(*stages)
        self.head = nn.Linear(512, classes)

    def forward(self, x):
        y = self.stages(F.relu(self.bn(self.stem(x))))
        y = F.avg_pool2d(y, 4).flatten(1)
        return self.head(y)
