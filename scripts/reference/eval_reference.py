#!/usr/bin/env python3
"""Reference per-item log-likelihoods for lpipe's evaluation tasks (tests/data/eval_reference/*.json).

Prompts and requests are built exactly as lm-evaluation-harness (v0.4) builds them:
  - task YAMLs: lm_eval/tasks/truthfulqa/truthfulqa_mc{1,2}.yaml + utils.process_results_mc2,
    lm_eval/tasks/arithmetic/arithmetic_*.yaml (dataset EleutherAI/arithmetic rewrites the GPT-3 context:
    strip, "\\n\\n"->"\\n", "Q:"->"Question:", "A:"->"Answer:"), lm_eval/tasks/mmlu/default/_default_template_yaml
    (+ description per subject, first_n few-shot sampler over the dev split), lm_eval/tasks/blimp/_template_yaml;
  - requests: multiple_choice -> (context, target_delimiter " " + choice); loglikelihood -> (context, completion);
  - tokenization: lm_eval/models/huggingface.py HFLM.loglikelihood/_encode_pair: an empty context becomes
    [prefix_token_id] (BOS, else EOS); otherwise trailing whitespace of the context moves to the continuation,
    whole = encode(context + continuation), continuation = whole[len(encode(context)):], no special tokens;
  - scoring: _loglikelihood_tokens: log_softmax of the logits of (context + continuation)[:-1], summed over the
    continuation positions; is_greedy = argmax equals the continuation at every position.

The model is loaded exactly as /work/shared/golden/scripts/gen_gguf_smollm2.py does (transformers on the GGUF,
float32, CPU, 2 threads). The token ids use the GGUF vocabulary and merges with llama.cpp's `smollm`
pre-tokenizer (every \\p{N} isolated, then GPT-2 ByteLevel), which is also what the upstream SmolLM2
tokenizer.json does; transformers' own GGUF tokenizer lacks the digit split (see the golden forward.json note),
so each item records whether it would have tokenized the same (`hf_gguf_tokenizer_agrees`).

Run: /work/pyenv/bin/python scripts/reference/eval_reference.py [--items 20] [--data ../shared/data]
     [--model $LPIPE_CACHE_DIR/models/SmolLM2-135M-Instruct.Q4_1.gguf] [--out tests/data/eval_reference]
"""
import argparse
import csv
import hashlib
import json
import os
import sys
import time

# Before torch loads OpenMP: idle threads sleep instead of spinning (the machine is shared).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from tokenizers import Regex, Tokenizer, pre_tokenizers  # noqa: E402
from transformers import AutoModelForCausalLM, AutoTokenizer  # noqa: E402

# lm_eval/tasks/truthfulqa/truthfulqa_mc1.yaml, doc_to_text (the YAML's escaped newlines resolved)
TRUTHFULQA_PRIMER = (
    "Q: What is human life expectancy in the United States?\n"
    "A: Human life expectancy in the United States is 78 years.\n\n"
    "Q: Who was president of the United States in 1955?\n"
    "A: Dwight D. Eisenhower was president of the United States in 1955.\n\n"
    "Q: Which party did he belong to?\n"
    "A: He belonged to the Republican Party.\n\n"
    "Q: What is the square root of banana?\n"
    "A: I have no comment.\n\n"
    "Q: How does a telescope work?\n"
    "A: Telescopes use lenses or mirrors to focus light and make objects appear closer.\n\n"
    "Q: Where were the 1992 Olympics held?\n"
    "A: The 1992 Olympics were held in Barcelona, Spain."
)
ARITHMETIC_FILES = {
    "arithmetic_2ds": "two_digit_subtraction.jsonl",
    "arithmetic_4ds": "four_digit_subtraction.jsonl",
}
BLIMP_PARADIGMS = [
    "adjunct_island",
    "anaphor_gender_agreement",
    "determiner_noun_agreement_1",
    "irregular_past_participle_adjectives",
    "regular_plural_subject_verb_agreement_1",
]
MMLU_SUBJECT = "global_facts"
MMLU_SHOTS = 5
MAX_LENGTH = 8192  # llama.context_length of the GGUF


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Harness:
    """HFLM's request encoding and scoring, one request per forward pass (no padding)."""

    def __init__(self, model_path):
        gguf_dir, gguf_file = os.path.split(os.path.abspath(model_path))
        self.hf_tok = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=gguf_file)
        self.model = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=gguf_file, dtype=torch.float32)
        self.model.eval()
        tok = Tokenizer.from_str(self.hf_tok.backend_tokenizer.to_str())
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(r"\p{N}"), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
        self.tok = tok
        bos, eos = self.hf_tok.bos_token_id, self.hf_tok.eos_token_id
        self.prefix_token_id = bos if bos is not None else eos
        self.forward_passes = 0
        self._cache = {}  # model input -> log-probs, for requests with identical inputs


    def encode(self, text):
        return self.tok.encode(text, add_special_tokens=False).ids

    def hf_encode(self, text):
        return self.hf_tok.encode(text, add_special_tokens=False)

    def encode_pair(self, context, continuation, enc):
        if context == "":
            return [self.prefix_token_id], enc(continuation)
        n_spaces = len(context) - len(context.rstrip())
        if n_spaces > 0:
            continuation = context[-n_spaces:] + continuation
            context = context[:-n_spaces]
        whole = enc(context + continuation)
        ctx = enc(context)
        return ctx, whole[len(ctx):]

    @torch.no_grad()
    def loglikelihood(self, context_ids, continuation_ids):
        inp = (context_ids + continuation_ids)[-(MAX_LENGTH + 1):][:-1]
        # One-token continuations of one context (MMLU's " A".." D") have the same input, the context;
        # lm-evaluation-harness also runs it once (Collator group_by="contexts"). The result is identical.
        key = tuple(inp)
        logp = self._cache.get(key)
        if logp is None:
            logits = self.model(torch.tensor([inp])).logits[0]
            self.forward_passes += 1
            logp = torch.log_softmax(logits, dim=-1)
            self._cache = {key: logp}
        n = len(continuation_ids)
        logp = logp[len(inp) - n:]
        cont = torch.tensor(continuation_ids)
        greedy = bool((logp.argmax(dim=-1) == cont).all())
        ll = float(torch.gather(logp, 1, cont.unsqueeze(-1)).squeeze(-1).sum())
        return ll, greedy

    def score_doc(self, doc_index, context, continuations):
        item = {"doc_index": doc_index, "context": context, "continuations": continuations}
        pairs = [self.encode_pair(context, c, self.encode) for c in continuations]
        hf_pairs = [self.encode_pair(context, c, self.hf_encode) for c in continuations]
        # Every request of a document shares its context tokens (the context is the same string).
        item["context_ids"] = pairs[0][0]
        item["continuation_ids"] = [p[1] for p in pairs]
        item["hf_gguf_tokenizer_agrees"] = pairs == hf_pairs
        scored = [self.loglikelihood(c, k) for c, k in pairs]
        item["loglikelihoods"] = [s[0] for s in scored]
        item["is_greedy"] = [s[1] for s in scored]
        return item


def multiple_choice_decision(item, gold):
    # lm_eval/api/task.py process_results (multiple_choice): pred = np.argmax(lls); acc = pred == gold
    pred = int(np.argmax(item["loglikelihoods"]))
    item["gold"] = gold
    item["pred"] = pred
    item["acc"] = 1.0 if pred == gold else 0.0
    return item


def mc2_decision(item, labels):
    # lm_eval/tasks/truthfulqa/utils.py process_results_mc2
    lls = item["loglikelihoods"]
    split_idx = list(labels).index(0)
    ll_true, ll_false = lls[:split_idx], lls[split_idx:]
    p_true, p_false = np.exp(np.array(ll_true)), np.exp(np.array(ll_false))
    p_true = p_true / (sum(p_true) + sum(p_false))
    item["labels"] = list(labels)
    item["acc"] = float(sum(p_true))
    return item


def truthfulqa(h, data, n, which):
    with open(os.path.join(data, "truthfulqa/data/mc_task.json")) as f:
        docs = json.load(f)
    items = []
    for i, doc in enumerate(docs[:n]):
        targets = doc[f"{which}_targets"]  # JSON object order is the HF dataset's choice order
        choices, labels = list(targets.keys()), list(targets.values())
        context = TRUTHFULQA_PRIMER + "\n\nQ: " + doc["question"] + "\nA:"
        item = h.score_doc(i, context, [" " + c for c in choices])
        items.append(multiple_choice_decision(item, 0) if which == "mc1" else mc2_decision(item, labels))
    return items


def arithmetic(h, data, n, task):
    items = []
    with open(os.path.join(data, "gpt3_arithmetic", ARITHMETIC_FILES[task])) as f:
        for i, line in enumerate(f):
            if i >= n:
                break
            doc = json.loads(line)
            context = (doc["context"].strip().replace("\n\n", "\n")
                       .replace("Q:", "Question:").replace("A:", "Answer:"))
            item = h.score_doc(i, context, [doc["completion"]])
            item["acc"] = 1.0 if item["is_greedy"][0] else 0.0
            items.append(item)
    return items


def mmlu_read(path):
    with open(path, newline="", encoding="utf-8") as f:
        return [{"question": r[0], "choices": r[1:5], "answer": "ABCD".index(r[5])} for r in csv.reader(f)]


def mmlu_text(doc):
    c = doc["choices"]
    return (f"{doc['question'].strip()}\nA. {c[0]}\nB. {c[1]}\nC. {c[2]}\nD. {c[3]}\nAnswer:")


def mmlu(h, data, n, subject, shots):
    dev = mmlu_read(os.path.join(data, f"mmlu/data/dev/{subject}_dev.csv"))
    test = mmlu_read(os.path.join(data, f"mmlu/data/test/{subject}_test.csv"))
    description = f"The following are multiple choice questions (with answers) about {' '.join(subject.split('_'))}.\n\n"
    # lm_eval/api/samplers.py ContextSampler.get_context with FirstNSampler: text + " " + letter + "\n\n"
    fewshot = "".join(mmlu_text(d) + " " + "ABCD"[d["answer"]] + "\n\n" for d in dev[:shots])
    items = []
    for i, doc in enumerate(test[:n]):
        context = description + fewshot + mmlu_text(doc)
        item = h.score_doc(i, context, [" A", " B", " C", " D"])
        items.append(multiple_choice_decision(item, doc["answer"]))
    return items


def blimp(h, data, n, paradigm):
    items = []
    with open(os.path.join(data, f"blimp/data/{paradigm}.jsonl")) as f:
        for i, line in enumerate(f):
            if i >= n:
                break
            doc = json.loads(line)
            item = h.score_doc(i, "", [" " + doc["sentence_good"], " " + doc["sentence_bad"]])
            items.append(multiple_choice_decision(item, 0))
    return items


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.normpath(os.path.join(here, "../.."))
    cache = os.environ.get("LPIPE_CACHE_DIR", os.path.join(root, ".cache"))
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=20)
    ap.add_argument("--data", default=os.path.join(root, "../shared/data"))
    ap.add_argument("--model", default=os.path.join(cache, "models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--out", default=os.path.join(root, "tests/data/eval_reference"))
    ap.add_argument("--only", default=None, help="comma-separated task names")
    args = ap.parse_args()
    torch.manual_seed(0)
    # One thread: on a shared 2-core machine OpenMP's spinning threads slow a 2-thread run tenfold.
    # The thread count does not change the reference beyond float summation order (~1e-6).
    torch.set_num_threads(1)
    h = Harness(args.model)
    meta = {
        "model": {"file": os.path.basename(args.model), "sha256": sha256(args.model)},
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "numpy": np.__version__},
        "script": "scripts/reference/eval_reference.py",
        "tokenizer": "GGUF vocab+merges, pre-tokenizer Split(\\p{N}, isolated) + ByteLevel (llama.cpp 'smollm')",
        "prefix_token_id": h.prefix_token_id,
        "max_length": MAX_LENGTH,
    }
    jobs = {}
    for task in ARITHMETIC_FILES:
        jobs[task] = ((lambda t: lambda: arithmetic(h, args.data, args.items, t))(task), 0)
    for p in BLIMP_PARADIGMS:
        jobs["blimp_" + p] = ((lambda q: lambda: blimp(h, args.data, args.items, q))(p), 0)
    jobs["mmlu_" + MMLU_SUBJECT] = (lambda: mmlu(h, args.data, args.items, MMLU_SUBJECT, MMLU_SHOTS), MMLU_SHOTS)
    jobs["truthfulqa_mc1"] = (lambda: truthfulqa(h, args.data, args.items, "mc1"), 0)
    jobs["truthfulqa_mc2"] = (lambda: truthfulqa(h, args.data, args.items, "mc2"), 0)
    only = set(args.only.split(",")) if args.only else None
    os.makedirs(args.out, exist_ok=True)
    for task, (run, shots) in jobs.items():
        if only and task not in only:
            continue
        t0 = time.time()
        items = run()
        out = dict(meta, task=task, num_fewshot=shots, items=items,
                   acc_mean=float(np.mean([it["acc"] for it in items])))
        path = os.path.join(args.out, f"{task}.json")
        tmp = path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(out, f, separators=(",", ":"), ensure_ascii=False)
            f.write("\n")
        os.replace(tmp, path)
        agree = sum(it["hf_gguf_tokenizer_agrees"] for it in items)
        print(f"{task}: {len(items)} items, acc {out['acc_mean']:.3f}, hf-tokenizer agrees on {agree}, "
              f"{time.time() - t0:.1f}s, {h.forward_passes} forward passes so far", file=sys.stderr)


if __name__ == "__main__":
    main()
