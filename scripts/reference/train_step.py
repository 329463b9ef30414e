#!/usr/bin/env python3
"""Reference for `lpipe bench train`: PyTorch + PEFT LoRA training tokens/s on the same GGUF model.

Same step as lpipe: forward, HF causal-LM loss with the first half of each row masked, backward,
AdamW (lr 1e-4, wd 0.01) on LoRA r (q_proj, v_proj, alpha 2r, dropout 0); median of --iters steps.
Prints one JSON line: {"tokens_per_s": ..., "seconds": [...], "torch": ..., "peft": ..., "threads": N}.
Exit 3 (with instructions on stderr) when torch, transformers or peft is missing.
"""
import argparse, json, os, statistics, sys, time

p = argparse.ArgumentParser()
p.add_argument("--model", required=True, help="path to a .gguf file")
p.add_argument("--batch", type=int, default=1)
p.add_argument("--seq-len", type=int, default=128)
p.add_argument("--rank", type=int, default=8)
p.add_argument("--iters", type=int, default=5)
p.add_argument("--threads", type=int, default=2)
a = p.parse_args()

try:
    import torch
    import peft
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM
except ImportError as e:
    print(f"reference needs torch, transformers, peft and gguf ({e}); install with:\n"
          "  python3 -m pip install torch --index-url https://download.pytorch.org/whl/cpu\n"
          "  python3 -m pip install transformers peft gguf\n"
          "or point LPIPE_PYTHON at a python that has them", file=sys.stderr)
    sys.exit(3)

torch.set_num_threads(a.threads)
torch.manual_seed(0)
d, f = os.path.split(os.path.abspath(a.model))
model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32)
model = get_peft_model(model, LoraConfig(r=a.rank, lora_alpha=2 * a.rank, lora_dropout=0.0,
                                         target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
model.train()
opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4, weight_decay=0.01)
vocab = model.config.vocab_size
ids = torch.randint(0, vocab, (a.batch, a.seq_len), generator=torch.Generator().manual_seed(0))
labels = ids.clone()
labels[:, : a.seq_len // 2] = -100
times = []
for i in range(a.iters + 1):
    t = time.perf_counter()
    opt.zero_grad(set_to_none=True)
    loss = model(input_ids=ids, labels=labels).loss
    loss.backward()
    opt.step()
    loss.item()
    if i > 0:
        times.append(time.perf_counter() - t)
print(json.dumps({"tokens_per_s": a.batch * a.seq_len / statistics.median(times), "seconds": times,
                  "torch": torch.__version__, "peft": peft.__version__, "threads": torch.get_num_threads()}))
