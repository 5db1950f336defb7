# needs: transformers
# input: tokens:2x16:256
# A tiny configuration of the installed transformers' model class.
# Llama: RoPE, RMSNorm, SwiGLU, grouped-query attention (4 query heads, 2 key/value heads).
import torch.nn as nn
from transformers import LlamaConfig, LlamaForCausalLM


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        cfg = LlamaConfig(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                          num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
        self.lm = LlamaForCausalLM(cfg)

    def forward(self, idx):
        return self.lm(input_ids=idx).logits
