# needs: transformers
# input: tokens:2x16:256
# A tiny configuration of the installed transformers' model class.
# DeepSeek-V3: multi-head latent attention (low-rank q and kv, decoupled RoPE) and routed experts.
import torch.nn as nn
from transformers import DeepseekV3Config, DeepseekV3ForCausalLM


class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.lm = DeepseekV3ForCausalLM(DeepseekV3Config(vocab_size=256, hidden_size=64, intermediate_size=128, moe_intermediate_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=4, n_routed_experts=4, num_experts_per_tok=2, n_group=1, topk_group=1, first_k_dense_replace=1, q_lora_rank=16, kv_lora_rank=16, qk_rope_head_dim=8, qk_nope_head_dim=8, v_head_dim=8, max_position_embeddings=64))

    def forward(self, idx):
        return self.lm(input_ids=idx).logits
