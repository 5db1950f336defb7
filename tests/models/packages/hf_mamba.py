# needs: transformers
# input: tokens:2x16:256
# A tiny configuration of the installed transformers' model class.
# Mamba: the selective state-space model, the library's pure-PyTorch path (a scan over time).
import torch.nn as nn
from transformers import MambaConfig, MambaForCausalLM


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.lm = MambaForCausalLM(MambaConfig(vocab_size=256, hidden_size=64, state_size=8, num_hidden_layers=2, expand=2))

    def forward(self, idx):
        return self.lm(input_ids=idx).logits
