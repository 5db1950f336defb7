import torch.nn as nn
# café in latin-1
