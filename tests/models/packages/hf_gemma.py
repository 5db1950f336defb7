# needs: transformers
# input: tokens:2x16:256
# A tiny configuration of the installed transformers' model class.
# Gemma: multi-query attention, scaled embeddings, GeGLU.
import torch.nn as nn
from transformers import GemmaConfig, GemmaForCausalLM


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.lm = GemmaForCausalLM(GemmaConfig(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=1, head_dim=16, max_position_embeddings=64))

    def forward(self, idx):
        return self.lm(input_ids=idx).logits
