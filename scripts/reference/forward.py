#!/usr/bin/env python3
"""Reference for `lpipe bench forward`: transformers forward tokens/s on the same GGUF model.

Prints one JSON line: {"tokens_per_s": ..., "seconds": [...], "torch": ..., "transformers": ..., "threads": N}.
Exit 3 (with instructions on stderr) when torch or transformers is missing.
"""
import argparse, json, os, sys, time

p = argparse.ArgumentParser()
p.add_argument("--model", required=True, help="path to a .gguf file")
p.add_argument("--batch", type=int, default=4)
p.add_argument("--seq-len", type=int, default=128)
p.add_argument("--iters", type=int, default=5)
p.add_argument("--threads", type=int, default=2)
a = p.parse_args()

try:
    import torch
    import transformers
    from transformers import AutoModelForCausalLM
except ImportError as e:
    print(f"reference needs torch, transformers and gguf ({e}); install with:\n"
          "  python3 -m pip install torch --index-url https://download.pytorch.org/whl/cpu\n"
          "  python3 -m pip install transformers gguf\n"
          "or point LPIPE_PYTHON at a python that has them", file=sys.stderr)
    sys.exit(3)

torch.set_num_threads(a.threads)
torch.manual_seed(0)
d, f = os.path.split(os.path.abspath(a.model))
model = AutoModelForCausalLM.from_pretrained(d, gguf_file=f, dtype=torch.float32).eval()
vocab = model.config.vocab_size
ids = torch.randint(0, vocab, (a.batch, a.seq_len), generator=torch.Generator().manual_seed(0))
times = []
with torch.inference_mode():
    model(ids)  # warm-up
    for _ in range(a.iters):
        t = time.perf_counter()
        model(ids).logits.sum().item()
        times.append(time.perf_counter() - t)
best = min(times)
print(json.dumps({"tokens_per_s": a.batch * a.seq_len / best, "seconds": times,
                  "torch": torch.__version__, "transformers": transformers.__version__,
                  "threads": torch.get_num_threads()}))
