#!/usr/bin/env python3
"""End-to-end check of `lpipe export --merge` on a GGUF model against PEFT.

1. loads the GGUF with transformers, wraps it with a random (non-zero B) PEFT LoRA and saves it;
2. runs `lpipe export --adapter A --model GGUF --merge -o OUT`;
3. loads OUT with transformers and compares logits with the PEFT model's (unmerged) logits.
Run: python scripts/reference/check_export_merge.py --lpipe target/debug/lpipe --model X.gguf --work /tmp/x
"""
import argparse, os, subprocess, sys
import torch
from transformers import AutoModelForCausalLM
from peft import LoraConfig, get_peft_model

p = argparse.ArgumentParser()
p.add_argument("--lpipe", required=True)
p.add_argument("--model", required=True)
p.add_argument("--work", required=True)
a = p.parse_args()
torch.manual_seed(0)
d, f = os.path.split(os.path.abspath(a.model))
base = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32)
pm = get_peft_model(base, LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj", "down_proj"],
                                     task_type="CAUSAL_LM"))
with torch.no_grad():
    for n, prm in pm.named_parameters():
        if "lora_B" in n:
            prm.normal_(0, 0.02)
adir = os.path.join(a.work, "adapter")
pm.save_pretrained(adir)
out = os.path.join(a.work, "merged")
r = subprocess.run([a.lpipe, "export", "--adapter", adir, "--model", a.model, "--merge", "-o", out],
                   capture_output=True, text=True)
print(r.stdout, r.stderr, file=sys.stderr)
r.check_returncode()
merged = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
ids = torch.randint(0, base.config.vocab_size, (1, 24), generator=torch.Generator().manual_seed(1))
with torch.no_grad():
    want = pm.eval()(ids).logits
    got = merged(ids).logits
diff = (got - want).abs().max().item()
print({"max_abs_logit_diff": diff, "max_abs_logit": want.abs().max().item()})
sys.exit(0 if diff < 1e-3 else 1)
