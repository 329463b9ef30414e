#!/usr/bin/env python3
"""Reference side of `lpipe bench score`: transformers' scoring throughput on the same requests.

Reads a JSON file {"requests": [{"context": [ids], "continuation": [ids]}, ...]} written by the bench,
scores every request as lm-evaluation-harness's HFLM does (one forward pass of (context+continuation)[:-1]
per request, shared when two requests have the same input, float32 on CPU) and prints one JSON line:
{"seconds": wall time of the scoring loop, "tokens": Σ len(context)+len(continuation),
 "forward_passes": n, "loglikelihoods": [...], "is_greedy": [...], "versions": {...}}.
The model is loaded as /work/shared/golden/scripts/gen_gguf_smollm2.py does.

Run: python scripts/reference/score.py REQUESTS.json --model PATH.gguf [--threads 2]
If torch/transformers are missing: pip install torch transformers gguf (CPU wheels suffice).
"""
import argparse
import json
import os
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

try:
    import torch
    import transformers
    from transformers import AutoModelForCausalLM
except ImportError as e:  # pragma: no cover - environment problem, reported to the bench
    print(json.dumps({"error": f"{e}; install with: pip install torch transformers gguf"}))
    sys.exit(2)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("requests")
    ap.add_argument("--model", required=True)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with open(args.requests) as f:
        requests = json.load(f)["requests"]
    gguf_dir, gguf_file = os.path.split(os.path.abspath(args.model))
    model = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=gguf_file, dtype=torch.float32).eval()
    lls, greedy = [], []
    passes, cache = 0, {}
    start = time.perf_counter()
    with torch.no_grad():
        for r in requests:
            ctx, cont = r["context"], r["continuation"]
            inp = (ctx + cont)[:-1]
            key = tuple(inp)
            logp = cache.get(key)
            if logp is None:
                logp = torch.log_softmax(model(torch.tensor([inp])).logits[0], dim=-1)
                cache = {key: logp}
                passes += 1
            tail = logp[len(inp) - len(cont):]
            c = torch.tensor(cont)
            greedy.append(bool((tail.argmax(-1) == c).all()))
            lls.append(float(torch.gather(tail, 1, c.unsqueeze(-1)).sum()))
    seconds = time.perf_counter() - start
    print(json.dumps({
        "seconds": seconds,
        "tokens": sum(len(r["context"]) + len(r["continuation"]) for r in requests),
        "forward_passes": passes,
        "loglikelihoods": lls,
        "is_greedy": greedy,
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
        "threads": args.threads,
    }))


if __name__ == "__main__":
    main()
