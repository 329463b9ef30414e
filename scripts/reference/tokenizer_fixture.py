#!/usr/bin/env python3
"""Reference token ids for lpipe's tokenizer tests (tests/fixtures/tokenizer_reference.json).

Builds two HF `tokenizer.json` files the same way tests/it/tokenizer_hf_json.rs builds them, encodes
texts with the python `tokenizers` library, and records the ids:
  * smollm2: byte-level BPE from the SmolLM2-135M-Instruct GGUF vocabulary (tokens, merges, 17
    control tokens as special added tokens), pre-tokenizer Digits(individual) + ByteLevel, as the
    upstream SmolLM2 tokenizer.json.
  * llama2_hf: Metaspace BPE with byte fallback from the Llama 2 SentencePiece model, merges
    extracted from the vocabulary (every split of a piece into two pieces, ordered by the merged
    piece's score, then ids), decoder Replace/ByteFallback/Fuse/Strip as the HF Llama tokenizer.
Also records sentencepiece 0.2 ids (no BOS) of the tricky strings for the `.model` tokenizer.

Usage: /work/pyenv/bin/python scripts/reference/tokenizer_fixture.py [../shared] [gguf path]
(needs: pip install tokenizers==0.23.3 sentencepiece==0.2.* gguf numpy)
"""
import hashlib
import json
import os
import sys

try:
    import gguf
    import sentencepiece as spm
    from tokenizers import (AddedToken, Regex, Tokenizer, decoders, models, normalizers,
                            pre_tokenizers, processors)
except ImportError as e:  # pragma: no cover
    sys.exit(f"{e}: pip install tokenizers sentencepiece gguf numpy")

SHARED = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../../shared")
GGUF = sys.argv[2] if len(sys.argv) > 2 else os.path.join(
    os.environ.get("LPIPE_CACHE_DIR", ".cache"), "models/SmolLM2-135M-Instruct.Q4_1.gguf")
OUT = os.path.join(os.path.dirname(__file__), "../../tests/fixtures/tokenizer_reference.json")

# Alpaca records [ALPACA_START, ALPACA_START + ALPACA_COUNT) joined as instruction\n\ninput\n\noutput.
ALPACA_START, ALPACA_COUNT = 300, 300
CASES = [
    "", " ", "  ", "\n", "Hello world", " Hello", "  two leading", "trailing  ", "tab\there",
    "x  =  42\n\n  y", "I have 12345 apples", "The year 2024-01-05, v3.14", "don't  stop 'S 'LL",
    "Hello world! 你好 café <|im_end|> done", "<|im_start|>user\nHi<|im_end|>\n",
    "  leading spaces\ttab\r\nCRLF", "emoji 🦙🦙 and ZWJ 👩‍💻", "Ünïcödé ½ ² ⅷ ٣", "a\u00a0b\u2003c",
    "<s> </s> <unk> literal", "<0x41> not a byte", "mixed\u0301 accents", "ﬁ ligature", "１２３ fullwidth",
    "line1\n\n\nline4", "    code block\n\tindented", "ABC123def 7", "?!...---", "a" * 70,
]


def ids_digest(ids):
    return hashlib.sha256(",".join(map(str, ids)).encode()).hexdigest()[:16]


def gguf_vocab(path):
    r = gguf.GGUFReader(path)
    def strs(k):
        f = r.fields[k]
        return [bytes(f.parts[i]).decode("utf-8") for i in f.data]
    tokens = strs("tokenizer.ggml.tokens")
    merges = strs("tokenizer.ggml.merges")
    f = r.fields["tokenizer.ggml.token_type"]
    types = [int(f.parts[i][0]) for i in f.data]
    return tokens, merges, types


def smollm2_tokenizer(path):
    tokens, merges, types = gguf_vocab(path)
    vocab = {t: i for i, t in enumerate(tokens)}
    tok = Tokenizer(models.BPE(vocab, [tuple(m.split(" ")) for m in merges]))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False)
                            for t, ty in zip(tokens, types) if ty == 3])
    return tok


LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                  r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def smollm2_llama3_tokenizer(path):
    """The SmolLM2 vocabulary behind Llama 3's pre-tokenizer (Split regex + ByteLevel without
    regex) and `ignore_merges`, to pin the Split/regex path against Oniguruma."""
    tokens, merges, types = gguf_vocab(path)
    vocab = {t: i for i, t in enumerate(tokens)}
    tok = Tokenizer(models.BPE(vocab, [tuple(m.split(" ")) for m in merges], ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    return tok


def sp_pieces(model_path):
    sp = spm.SentencePieceProcessor(model_file=model_path)
    pieces = []
    for i in range(sp.get_piece_size()):
        kind = ("unk" if sp.is_unknown(i) else "control" if sp.is_control(i)
                else "byte" if sp.is_byte(i) else "normal")
        pieces.append((sp.id_to_piece(i), sp.get_score(i), kind))
    return sp, pieces


def extract_merges(pieces):
    """Every split of a normal piece into two vocabulary pieces; by score desc, merged id, ids."""
    vocab = {p: i for i, (p, _, _) in enumerate(pieces)}
    found = []
    for mid, (piece, score, kind) in enumerate(pieces):
        if kind != "normal":
            continue
        for k in range(1, len(piece)):
            left, right = piece[:k], piece[k:]
            if left in vocab and right in vocab:
                found.append((-score, mid, vocab[left], vocab[right], left, right))
    found.sort(key=lambda m: m[:4])
    return [(m[4], m[5]) for m in found]


def llama2_hf_tokenizer(pieces):
    vocab = {p: i for i, (p, _, _) in enumerate(pieces)}
    tok = Tokenizer(models.BPE(vocab, extract_merges(pieces), unk_token="<unk>",
                               fuse_unk=True, byte_fallback=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="first", split=False)
    tok.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(),
                                     decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    tok.add_special_tokens([AddedToken(p, special=True, normalized=False)
                            for p, _, kind in pieces if kind in ("unk", "control")])
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", vocab["<s>"])])
    return tok


# Two tiny SentencePiece BPE models trained here to exercise options Llama 2 does not use:
# user-defined symbols, remove_extra_whitespaces, unknown pieces without byte fallback, and
# treat_whitespace_as_suffix with byte fallback. Saved next to the fixture.
TINY = {
    "sp_tiny_bpe": dict(vocab_size=400, user_defined_symbols=["<sep>", "[MASK]"],
                        remove_extra_whitespaces=True, byte_fallback=False),
    "sp_tiny_suffix": dict(vocab_size=700, treat_whitespace_as_suffix=True, byte_fallback=True,
                           remove_extra_whitespaces=False),
    # Precompiled normalization rules (darts trie in `precompiled_charsmap`), from a small rule
    # file so the fixture stays small (nmt_nfkc's trie is 240 kB; the trie code is the same).
    "sp_tiny_rules": dict(vocab_size=400, byte_fallback=False),
    # Unigram (Viterbi) with the same rules, a user-defined symbol and byte fallback.
    "sp_tiny_unigram": dict(model_type="unigram", vocab_size=800, user_defined_symbols=["<sep>"],
                            byte_fallback=True),
}
RULED = ("sp_tiny_rules", "sp_tiny_unigram")


def rules_tsv(path):
    """Full-width ASCII → ASCII, ideographic/no-break space → space, ligatures ﬀ..ﬄ → letters,
    e + combining acute → é (a two-character source), and upper-case A–E folded to lower case."""
    rows = [f"{c:X}\t{c - 0xFEE0:X}" for c in range(0xFF01, 0xFF5F)]
    rows += ["3000\t20", "A0\t20", "FB00\t66 66", "FB01\t66 69", "FB02\t66 6C",
             "FB03\t66 66 69", "FB04\t66 66 6C", "65 301\tE9"]
    rows += [f"{c:X}\t{c + 32:X}" for c in range(0x41, 0x46)]
    with open(path, "w") as f:
        f.write("\n".join(rows) + "\n")


def tiny_models(alpaca, texts):
    import io
    corpus = [r["output"] for r in alpaca[:3000] if r["output"]]
    out = {}
    import tempfile
    tsv = os.path.join(tempfile.mkdtemp(), "rules.tsv")
    rules_tsv(tsv)
    for name, opts in TINY.items():
        if name in RULED:
            opts = dict(opts, normalization_rule_tsv=tsv)
        buf = io.BytesIO()
        spm.SentencePieceTrainer.train(
            sentence_iterator=iter(corpus), model_writer=buf, character_coverage=0.98,
            num_threads=1, minloglevel=2,
            **{"model_type": "bpe", "normalization_rule_name": "identity", **opts})
        path = os.path.join(os.path.dirname(OUT), name + ".model")
        with open(path, "wb") as f:
            f.write(buf.getvalue())
        sp = spm.SentencePieceProcessor(model_file=path)
        cases = CASES + ["a <sep> b[MASK]c", "  x   y  ", "Zürich Ωmega 漢字",
                         "Ｆｕｌｌ　ｗｉｄｔｈ ＡＢＣ", "Straße ǅ ℌ ㍿ ① ⁵", "e\u0301 vs é, ﬀ ﬃ", "tab\t\tnew\n\nline"]
        out[name] = [{"text": t, "ids": sp.encode(t), "decoded": sp.decode(sp.encode(t))} for t in cases]
        out[name + "_alpaca_sha256"] = [ids_digest(sp.encode(t)) for t in texts]
    return out


def llama2_legacy_tokenizer(pieces):
    """Older HF Llama files: normalizer Prepend + Replace instead of a Metaspace pre-tokenizer."""
    tok = llama2_hf_tokenizer(pieces)
    tok.pre_tokenizer = None
    tok.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    return tok


BL = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}
# Pre-tokenizer variants swapped into the SmolLM2 tokenizer.json (JSON stored in the fixture, so
# the Rust test uses the very same configuration): split behaviours, invert, Whitespace, Digits,
# ByteLevel prefix space, Metaspace before ByteLevel.
PRE_VARIANTS = {
    "whitespace": {"type": "Sequence", "pretokenizers": [{"type": "Whitespace"}, BL]},
    "whitespace_split": {"type": "Sequence", "pretokenizers": [{"type": "WhitespaceSplit"}, BL]},
    "split_merged_previous": {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"String": " "}, "behavior": "MergedWithPrevious", "invert": False}, BL]},
    "split_merged_next": {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "\\s+"}, "behavior": "MergedWithNext", "invert": False}, BL]},
    "split_contiguous_inverted": {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "[a-z]"}, "behavior": "Contiguous", "invert": True}, BL]},
    "split_removed": {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "[,.!?]"}, "behavior": "Removed", "invert": False},
        {**BL, "use_regex": True}]},
    "digits_contiguous": {"type": "Sequence", "pretokenizers": [
        {"type": "Digits", "individual_digits": False}, {**BL, "use_regex": True}]},
    "byte_level_prefix_space": {**BL, "add_prefix_space": True, "use_regex": True},
    "metaspace_always_split": {"type": "Sequence", "pretokenizers": [
        {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True}, BL]},
}


def pre_variants(smol, texts):
    base = json.loads(smol.to_str())
    out = {}
    for name, pre in PRE_VARIANTS.items():
        doc = dict(base, pre_tokenizer=pre)
        tok = Tokenizer.from_str(json.dumps(doc))
        out[name] = {"pre_tokenizer": pre,
                     "cases": [tok.encode(t, add_special_tokens=False).ids for t in CASES],
                     "alpaca_sha256": [ids_digest(tok.encode(t, add_special_tokens=False).ids)
                                       for t in texts[:100]]}
    return out


def main():
    sp, pieces = sp_pieces(os.path.join(SHARED, "data/llama2_tokenizer/tokenizer.model"))
    smol = smollm2_tokenizer(GGUF)
    llama = llama2_hf_tokenizer(pieces)
    llama3 = smollm2_llama3_tokenizer(GGUF)
    legacy = llama2_legacy_tokenizer(pieces)
    with open(os.path.join(SHARED, "data/alpaca/alpaca_data.json")) as f:
        alpaca = json.load(f)
    texts = ["\n\n".join([r["instruction"], r["input"], r["output"]])
             for r in alpaca[ALPACA_START:ALPACA_START + ALPACA_COUNT]]
    enc = lambda tok, t: tok.encode(t, add_special_tokens=False).ids
    out = {
        "made_by": "scripts/reference/tokenizer_fixture.py",
        "versions": {"tokenizers": __import__("tokenizers").__version__,
                     "sentencepiece": spm.__version__},
        "gguf": os.path.basename(GGUF),
        "llama2_hf_merges": len(extract_merges(pieces)),
        "alpaca": {
            "start": ALPACA_START, "count": ALPACA_COUNT,
            "text": "instruction + '\\n\\n' + input + '\\n\\n' + output",
            "digest": "first 16 hex digits of the sha256 of the ids joined by ',' (ASCII decimal)",
            "smollm2_sha256": [ids_digest(enc(smol, t)) for t in texts],
            "llama2_hf_sha256": [ids_digest(enc(llama, t)) for t in texts],
            "sentencepiece_sha256": [ids_digest(sp.encode(t)) for t in texts],
            "smollm2_llama3_sha256": [ids_digest(enc(llama3, t)) for t in texts],
            "llama2_legacy_sha256": [ids_digest(enc(legacy, t)) for t in texts],
            "smollm2_first5": [enc(smol, t) for t in texts[:5]],
            "llama2_hf_first5": [enc(llama, t) for t in texts[:5]],
        },
        "cases": [{
            "text": t,
            "smollm2": enc(smol, t),
            "smollm2_decoded": smol.decode(enc(smol, t), skip_special_tokens=True),
            "llama2_hf": enc(llama, t),
            "llama2_hf_with_bos": llama.encode(t).ids,
            "llama2_hf_decoded": llama.decode(enc(llama, t), skip_special_tokens=True),
            "sentencepiece": sp.encode(t),
            "smollm2_llama3": enc(llama3, t),
            "llama2_legacy": enc(legacy, t),
            "sentencepiece_decoded": sp.decode(sp.encode(t)),
        } for t in CASES],
        "tiny_models": tiny_models(alpaca, texts),
        "pre_variants": pre_variants(smol, texts),
    }
    tmp = OUT + ".tmp"
    with open(tmp, "w") as f:
        json.dump(out, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    os.replace(tmp, OUT)
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
