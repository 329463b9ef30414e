#!/usr/bin/env bash
# Offline LLVM for the `cuda` feature.
#
# `--features cuda` pulls cubecl-llvm, whose build script (tracel-llvm-bundler 23.1.0-4) downloads
# an LLVM bundle into $XDG_DATA_HOME/tracel/tracel-llvm-23.1.0-4 unless that directory already
# holds a `.tracel-llvm-installed` sentinel. Where the download is impossible (CI, air-gapped
# hosts) this script builds that directory from Debian's LLVM 22 instead:
#   include/ and lib/          -> /usr/lib/llvm-22/{include,lib}
#   bin/llvm-config            -> runs /usr/lib/llvm-22/bin/llvm-config, rewriting the absolute
#                                 libz3 path it prints to `-lz3` (the bundler expects bare names)
#   .tracel-llvm-installed     -> empty sentinel
# Usage: scripts/llvm-offline.sh [--install]   (--install runs apt-get for the LLVM packages)
set -euo pipefail

llvm_root=/usr/lib/llvm-22
bundle=${XDG_DATA_HOME:-$HOME/.local/share}/tracel/tracel-llvm-23.1.0-4

if [[ ${1:-} == --install ]]; then
  apt-get install -y llvm-22-dev libpolly-22-dev libzstd-dev
fi
if [[ ! -x $llvm_root/bin/llvm-config ]]; then
  echo "error: $llvm_root/bin/llvm-config not found" >&2
  echo "help: run 'apt-get install -y llvm-22-dev libpolly-22-dev libzstd-dev' (or this script with --install)" >&2
  exit 2
fi

mkdir -p "$bundle/bin"
ln -sfn "$llvm_root/include" "$bundle/include"
ln -sfn "$llvm_root/lib" "$bundle/lib"
cat >"$bundle/bin/llvm-config" <<WRAPPER
#!/usr/bin/env bash
set -o pipefail
$llvm_root/bin/llvm-config "\$@" | sed 's#/usr/lib/x86_64-linux-gnu/libz3\.so#-lz3#g'
WRAPPER
chmod +x "$bundle/bin/llvm-config"
touch "$bundle/.tracel-llvm-installed"
echo "offline LLVM ready: $bundle ($("$bundle/bin/llvm-config" --version))"
