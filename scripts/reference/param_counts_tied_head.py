#!/usr/bin/env python3
"""PEFT LoRA counts when `lm_head` is tied to the embedding (SmolLM2-135M), which
../shared/golden/param_counts skips. Meta device: nothing is allocated.

Run: python3 scripts/reference/param_counts_tied_head.py   (needs torch, transformers, peft)
Printed with PEFT 0.21.2 / transformers 5.24: head only 795648; all linears + head 5680128.
"""
import warnings

try:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM
except ImportError:
    raise SystemExit("needs: pip install torch transformers peft")

cfg = LlamaConfig(vocab_size=49152, hidden_size=576, intermediate_size=1536, num_hidden_layers=30,
                  num_attention_heads=9, num_key_value_heads=3, tie_word_embeddings=True,
                  max_position_embeddings=8192, rope_theta=100000.0, rms_norm_eps=1e-5)
ALL7 = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
for name, targets in [("head only", ["lm_head"]), ("all linears + head", ALL7 + ["lm_head"])]:
    with torch.device("meta"), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PEFT warns that the tied head is wrapped anyway
        model = get_peft_model(LlamaForCausalLM(cfg), LoraConfig(
            r=16, lora_alpha=32, lora_dropout=0.0, bias="none", task_type="CAUSAL_LM",
            target_modules=targets))
    trainable, total = model.get_nb_trainable_parameters()
    print(f"{name}: trainable {trainable} of {total}")
