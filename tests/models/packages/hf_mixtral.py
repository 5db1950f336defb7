# needs: transformers
# input: tokens:2x16:256
# A tiny configuration of the installed transformers' model class.
# Mixtral: a sparse mixture of experts, top-2 of 4 routed per token.
import torch.nn as nn
from transformers import MixtralConfig, MixtralForCausalLM


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.lm = MixtralForCausalLM(MixtralConfig(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, num_local_experts=4, num_experts_per_tok=2, max_position_embeddings=64))

    def forward(self, idx):
        return self.lm(input_ids=idx).logits
