#!/usr/bin/env bash
# 4-bit kernel check and timings on a CUDA machine, building nothing there.
#
# Here (CPU machine, with scripts/llvm-offline.sh done once):
#   scripts/gpu-check.sh --build      # builds, strips and compresses into gpu-bundle/
# There (carry gpu-bundle/; under 8 minutes in total):
#   scripts/gpu-check.sh              # runs the bundle, prints the table, writes $OUT/gpu-check.txt
#
# It runs every kernel test against its reference on CUDA (values exactly equal for dequantize,
# within the documented summation bound for the matmuls, custom backward vs autodiff through the
# reference), then `lpipe bench quant --device cuda` for dequantize GB/s against a device copy of
# the same bytes and the 4-bit vs dense linear layer (forward + input gradient), on a
# Llama-2-7B-shaped 4096x4096 weight.
set -euo pipefail
cd "$(dirname "$0")/.."
bundle=gpu-bundle

if [[ ${1:-} == --build ]]; then
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
  cargo build --release --features cuda --bin lpipe
  tests=$(cargo test --release -p lpipe-kernels --features cuda --no-run --message-format=json 2>/dev/null \
    | grep -o '"executable":"[^"]*q4_kernels[^"]*"' | head -1 | cut -d'"' -f4)
  mkdir -p "$bundle"
  cp "$CARGO_TARGET_DIR/release/lpipe" "$bundle/lpipe"
  cp "$tests" "$bundle/q4_kernels"
  strip "$bundle/lpipe" "$bundle/q4_kernels"
  xz -T0 -f -6 "$bundle/lpipe" "$bundle/q4_kernels"
  ls -lh "$bundle"
  exit 0
fi

[[ -d $bundle ]] || { echo "error: $bundle/ missing; run '$0 --build' on the build machine and carry it" >&2; exit 2; }
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
work=$(mktemp -d)
for f in lpipe q4_kernels; do xz -dc "$bundle/$f.xz" >"$work/$f"; chmod +x "$work/$f"; done
out=${OUT:-$work}/gpu-check.txt
{
  echo "== kernel tests on CUDA (each kernel vs its reference; custom backward vs autodiff)"
  # A missing CUDA device must fail here, not skip.
  LPIPE_REQUIRE_GPU=1 timeout 240 "$work/q4_kernels" --test-threads 1 gpu::
  echo "== timings"
  timeout 180 "$work/lpipe" bench quant --device cuda --layer 4096 --tokens 512 --rows 4096 --cols 4096 --reps 5
} 2>&1 | tee "$out"
echo "table written to $out"
