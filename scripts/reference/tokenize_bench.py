#!/usr/bin/env python3
"""Reference side of `lpipe bench tokenize`: encode Alpaca (template prompt + output) with
sentencepiece 0.2 (Llama 2 tokenizer.model) and HF tokenizers (SmolLM2 tokenizer.json built from
the GGUF vocabulary, as scripts/reference/tokenizer_fixture.py does); print one JSON object.

Usage: python tokenize_bench.py SHARED_DIR GGUF_PATH RECORDS
(needs: pip install sentencepiece tokenizers gguf numpy)
"""
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(__file__))


def alpaca_text(r):
    if r["input"]:
        head = ("Below is an instruction that describes a task, paired with an input that provides "
                "further context. Write a response that appropriately completes the request.\n\n"
                f"### Instruction:\n{r['instruction']}\n\n### Input:\n{r['input']}\n\n### Response:\n")
    else:
        head = ("Below is an instruction that describes a task. Write a response that appropriately "
                f"completes the request.\n\n### Instruction:\n{r['instruction']}\n\n### Response:\n")
    return head + r["output"]


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main():
    shared, gguf_path, records = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(os.path.join(shared, "data/alpaca/alpaca_data.json")) as f:
        texts = [alpaca_text(r) for r in json.load(f)[:records]]
    result = {"records": len(texts)}
    try:
        import sentencepiece as spm
        sp = spm.SentencePieceProcessor(
            model_file=os.path.join(shared, "data/llama2_tokenizer/tokenizer.model"))
        secs, ids = timed(lambda: [sp.encode(t) for t in texts])
        result["sentencepiece"] = {"seconds": secs, "tokens": sum(map(len, ids))}
    except Exception as e:  # reported in the table, not fatal
        result["sentencepiece"] = {"error": str(e)}
    try:
        from tokenizer_fixture import smollm2_tokenizer
        tok = smollm2_tokenizer(gguf_path)
        secs, ids = timed(lambda: [tok.encode(t, add_special_tokens=False).ids for t in texts])
        result["tokenizers"] = {"seconds": secs, "tokens": sum(map(len, ids))}
        secs, enc = timed(lambda: tok.encode_batch(texts, add_special_tokens=False))
        result["tokenizers_batch"] = {"seconds": secs, "tokens": sum(len(e.ids) for e in enc)}
    except Exception as e:
        result["tokenizers"] = {"error": str(e)}
    print(json.dumps(result))


if __name__ == "__main__":
    main()
