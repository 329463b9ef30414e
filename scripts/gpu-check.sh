#!/usr/bin/env bash
# Every GPU check of lpipe in one call on a CUDA machine, building nothing there.
#
# Here (CPU machine, scripts/llvm-offline.sh done once; ~25 min cold on 2 cores, minutes warm):
#   scripts/gpu-check.sh --build      # lpipe + the kernel tests, release, cuda; stripped, xz'd into
#                                     # gpu-bundle/ with make_model.py, peft_ref.py, the Llama 2
#                                     # tokenizer and the longest Alpaca record (from ../shared)
# There (device tool: carry gpu-bundle; about 8 minutes; the H200 machine has PyTorch + PEFT):
#   scripts/gpu-check.sh              # prints each section, then one summary; logs in $OUT
#
# Sections, each under its own time limit so that a slow one cannot eat the others:
#  1. kernel tests on CUDA: each 4-bit kernel against its plain-tensor reference (dequantize
#     bit-exact in f32 and bf16, fused and dequantize+matmul paths within their stated bounds,
#     custom backward against autodiff through the reference). A missing device fails.
#  2. `lpipe bench quant --device cuda`: bf16 dequantize GB/s against a device copy of the same
#     bytes; 4-bit vs dense linear (forward + input gradient), 4096², 1,304 tokens.
#  3. 8-layer Llama-2-7B-width model: `lpipe bench qlora --device cuda` (LoRA, nf4, nf4+dq, fp4,
#     1,304-token micro-batches), each variant in its own process.
#  4. the 7B itself (32 layers): LoRA and QLoRA nf4+dq steps, and PyTorch + PEFT on the same
#     checkpoint (LoRA, q+v, the longest Alpaca record).
set -uo pipefail
cd "$(dirname "$0")/.."
bundle=gpu-bundle

if [[ ${1:-} == --build ]]; then
  set -e
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
  scripts/llvm-offline.sh
  tests=$(cargo test --release -p lpipe-kernels --features cuda --no-run --message-format=json \
    | grep -o '"executable":"[^"]*q4_kernels[^"]*"' | head -1 | cut -d'"' -f4)
  cargo build --release --features cuda --bin lpipe
  mkdir -p "$bundle"
  cp "$CARGO_TARGET_DIR/release/lpipe" "$bundle/lpipe"
  cp "$tests" "$bundle/q4_kernels"
  strip "$bundle/lpipe" "$bundle/q4_kernels"
  xz -T0 -f -6 "$bundle/lpipe" "$bundle/q4_kernels"
  # Non-glibc libraries the binary links, for a GPU host that lacks them (used only if missing).
  mkdir -p "$bundle/lib"
  ldd "$CARGO_TARGET_DIR/release/lpipe" | awk '$3 ~ /libz|libzstd/ {print $3}' | xargs -r -I{} cp -L {} "$bundle/lib/"
  cp ../shared/gpu/make_model.py ../shared/gpu/peft_ref.py "$bundle/"
  cp ../shared/data/llama2_tokenizer/tokenizer.model "$bundle/"
  python3 - "$bundle/longest.json" <<'PY'
import json, sys
recs = json.load(open("../shared/data/alpaca/alpaca_data.json"))
text = lambda r: r["instruction"] + r.get("input", "") + r["output"]
json.dump([max(recs, key=lambda r: len(text(r)))] * 64, open(sys.argv[1], "w"))
PY
  ls -lh "$bundle"
  exit 0
fi

[[ -d $bundle ]] || { echo "error: $bundle/ missing; run '$0 --build' on the build machine and carry it" >&2; exit 2; }
out=${OUT:-$(mktemp -d)}
work=$(mktemp -d)
for f in lpipe q4_kernels; do xz -dc "$bundle/$f.xz" >"$work/$f"; chmod +x "$work/$f"; done
if ldd "$work/lpipe" | grep -q "not found"; then export LD_LIBRARY_PATH=$PWD/$bundle/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}; fi
lpipe=$work/lpipe
budget=${GPU_CHECK_BUDGET:-560}   # seconds for all sections; each gets min(its limit, what is left)
sections=${GPU_CHECK_SECTIONS:-1 2 3 4}   # a subset, e.g. "1 2" for the kernels alone
want() { [[ " $sections " == *" $1 "* ]]; }
left() { local l=$((budget - ($(date +%s) - t0))); ((l < $1)) && echo $((l > 1 ? l : 1)) || echo "$1"; }
summary=$out/summary.txt
: >"$summary"
note() { echo "$*" | tee -a "$summary"; }
# Largest memory nvidia-smi saw used on the GPU while "$@" ran (MiB), CUDA context included.
sampled() {
  local log=$1; shift
  (while true; do nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits; sleep 0.2; done) >"$log.smi" 2>/dev/null &
  local sampler=$!
  "$@"
  local rc=$?
  kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null
  note "  nvidia-smi peak ($(basename "$log")): $(sort -n "$log.smi" | tail -1) MiB used on the GPU (rc $rc)"
  return $rc
}
t0=$(date +%s)
note "== $(nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null) | $(git log -1 --format=%h 2>/dev/null || echo '?') | $(date -u +%FT%TZ)"

if want 1; then
note "== 1. kernel tests on CUDA"
LPIPE_REQUIRE_GPU=1 timeout "$(left 150)" "$work/q4_kernels" --test-threads 1 2>&1 | tee "$out/kernels.log" | tail -25
grep -E "^test result|FAILED|panicked" "$out/kernels.log" | tee -a "$summary"

fi
if want 2; then
note "== 2. bench quant (bf16)"
timeout "$(left 90)" "$lpipe" bench quant --device cuda --layer 4096 --tokens 1304 --rows 4096 --cols 4096 --reps 5 \
  2>&1 | tee "$out/quant.log" | tail -8 >>"$summary"
tail -7 "$out/quant.log"
# Bandwidth at a size where launch overhead no longer hides it (8192², 128 MiB of bf16).
timeout "$(left 60)" "$lpipe" bench quant --device cuda --layer 8192 --tokens 64 --rows 1024 --cols 1024 --reps 5 \
  2>&1 | tail -6 | tee -a "$summary"

fi
if want 3; then
note "== 3. 8 layers (1.88B): LoRA vs QLoRA"
timeout "$(left 60)" python3 "$bundle/make_model.py" /tmp/m8 8 >/dev/null 2>&1 || note "make_model 8 failed"
sampled "$out/m8" timeout "$(left 200)" "$lpipe" bench qlora --device cuda --model /tmp/m8 --seq-len 1304 --steps 3 \
  2>"$out/m8.err" | tee "$out/m8.log" | tee -a "$summary"
tail -5 "$out/m8.err"

fi
if want 4; then
note "== 4. 7B (32 layers): lpipe LoRA; PyTorch + PEFT; lpipe QLoRA nf4+dq"
rm -rf /tmp/m8
timeout "$(left 90)" python3 "$bundle/make_model.py" /tmp/m32 32 >/dev/null 2>&1 || note "make_model 32 failed"
sampled "$out/m32-lora" timeout "$(left 120)" "$lpipe" bench qlora --device cuda --model /tmp/m32 --seq-len 1304 \
  --steps 5 --variant lora 2>"$out/m32-lora.err" | tee "$out/m32-lora.log" | grep '^| [a-z]' | tee -a "$summary"
tail -3 "$out/m32-lora.err"
timeout "$(left 120)" python3 "$bundle/peft_ref.py" /tmp/m32 "$bundle/longest.json" 10 q_proj,v_proj "$bundle/tokenizer.model" \
  2>"$out/peft.err" | tee -a "$summary"
tail -3 "$out/peft.err"
sampled "$out/m32-nf4dq" timeout "$(left 200)" "$lpipe" bench qlora --device cuda --model /tmp/m32 --seq-len 1304 \
  --steps 5 --variant nf4-dq 2>"$out/m32-nf4dq.err" | tee "$out/m32-nf4dq.log" | grep '^| [a-z]' | tee -a "$summary"
tail -3 "$out/m32-nf4dq.err"
fi
note "== done in $(( $(date +%s) - t0 )) s"
echo
echo "================ summary"
cat "$summary"
