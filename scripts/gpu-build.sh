#!/usr/bin/env bash
# Release build of lpipe with the `cuda` backend, packed to carry to a GPU machine.
#
# Build here (any x86-64 Debian/Ubuntu machine with Rust; no GPU or CUDA toolkit needed):
#   scripts/gpu-build.sh                  # -> gpu-bundle/lpipe-cuda.tar.xz (must stay under 64 MiB)
# There (only the NVIDIA driver is needed: kernels go through LLVM to PTX, so no NVRTC/toolkit):
#   tar -xJf lpipe-cuda.tar.xz && lpipe-cuda/lpipe run pipeline.lpipe   # with `device = cuda(0)`
#
# LLVM is linked statically (cubecl-llvm); the few shared libraries the binary still needs that
# a minimal GPU host may lack (libz3, libxml2, ...) are copied into lib/ and found through the
# wrapper's LD_LIBRARY_PATH. The C library and the driver (libcuda, loaded at run time) are not.
set -euo pipefail
cd "$(dirname "$0")/.."
limit=$((64 * 1024 * 1024))
out=${GPU_BUNDLE_DIR:-gpu-bundle}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}

scripts/llvm-offline.sh
cargo build --release --features cuda --bin lpipe

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
pkg=$stage/lpipe-cuda
mkdir -p "$pkg/bin" "$pkg/lib"
cp "$CARGO_TARGET_DIR/release/lpipe" "$pkg/bin/lpipe"
strip "$pkg/bin/lpipe"
# Everything the loader resolves except glibc's own libraries, which must match the host's.
ldd "$pkg/bin/lpipe" | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | while read -r lib; do
  case $(basename "$lib") in
    libc.so* | libm.so* | libdl.so* | librt.so* | libpthread.so* | ld-linux*) ;;
    *) cp -L "$lib" "$pkg/lib/" ;;
  esac
done
cat >"$pkg/lpipe" <<'WRAPPER'
#!/usr/bin/env bash
here=$(cd "$(dirname "$0")" && pwd)
export LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
exec "$here/bin/lpipe" "$@"
WRAPPER
chmod +x "$pkg/lpipe"

mkdir -p "$out"
tar -C "$stage" -cf - lpipe-cuda | xz -T0 -9 >"$out/lpipe-cuda.tar.xz.tmp"
mv "$out/lpipe-cuda.tar.xz.tmp" "$out/lpipe-cuda.tar.xz"
size=$(stat -c %s "$out/lpipe-cuda.tar.xz")
echo "bundled: $(ls "$pkg/lib" | tr '\n' ' ')"
echo "$out/lpipe-cuda.tar.xz: $((size / 1024 / 1024)) MiB ($(du -sh "$pkg" | cut -f1) unpacked)"
if ((size >= limit)); then
  echo "error: the bundle is over 64 MiB" >&2
  exit 1
fi
