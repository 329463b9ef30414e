#!/usr/bin/env bash
# Let `cargo build --features cuda` work offline: cubecl-llvm's build script downloads an LLVM
# bundle (tracel-llvm-23.1.0-4); point it at Debian's LLVM 22 instead.
# Usage: scripts/llvm-offline.sh   (idempotent; needs apt-get the first time)
set -euo pipefail
llvm=/usr/lib/llvm-22
if [ ! -x "$llvm/bin/llvm-config" ]; then
  apt-get install -y llvm-22-dev libpolly-22-dev libzstd-dev
fi
bundle=${XDG_DATA_HOME:-$HOME/.local/share}/tracel/tracel-llvm-23.1.0-4
mkdir -p "$bundle/bin"
ln -sfn "$llvm/include" "$bundle/include"
ln -sfn "$llvm/lib" "$bundle/lib"
# Debian's llvm-config names libz3 by absolute path, which rustc cannot link as given.
cat > "$bundle/bin/llvm-config" <<SH
#!/usr/bin/env bash
set -o pipefail
$llvm/bin/llvm-config "\$@" | sed 's#/usr/lib/x86_64-linux-gnu/libz3\\.so#-lz3#g'
SH
chmod +x "$bundle/bin/llvm-config"
touch "$bundle/.tracel-llvm-installed"
echo "LLVM bundle ready: $bundle (now: cargo check --features cuda)"
