# needs: transformers
# input: tokens:2x16:256
# A tiny configuration of the installed transformers' model class.
# Qwen2: Llama's layout with biased q/k/v projections.
import torch.nn as nn
from transformers import Qwen2Config, Qwen2ForCausalLM


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.lm = Qwen2ForCausalLM(Qwen2Config(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64))

    def forward(self, idx):
        return self.lm(input_ids=idx).logits
