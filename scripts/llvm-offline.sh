#!/usr/bin/env bash
# Offline LLVM for the `cuda` feature. Idempotent; silent when everything is already in place.
#
# `--features cuda` pulls cubecl-cuda, which always depends on cubecl-llvm (kernels are lowered
# through LLVM to PTX). cubecl-llvm's build script (tracel-llvm-bundler 23.1.0-4) downloads an
# LLVM bundle into $XDG_DATA_HOME/tracel/tracel-llvm-23.1.0-4 unless that directory already
# holds a `.tracel-llvm-installed` sentinel. Where the download is impossible (CI, air-gapped
# hosts) this script builds that directory from Debian's LLVM 22 instead:
#   include/ and lib/          -> /usr/lib/llvm-22/{include,lib}
#   bin/llvm-config            -> runs /usr/lib/llvm-22/bin/llvm-config, rewriting the absolute
#                                 libz3 path it prints to `-lz3` (the bundler expects bare names)
#   .tracel-llvm-installed     -> empty sentinel
# Usage: scripts/llvm-offline.sh [--install]
#   --install: apt-get the LLVM packages when llvm-config is missing (needs root).
set -euo pipefail

llvm_root=/usr/lib/llvm-22
packages=(llvm-22-dev libpolly-22-dev libzstd-dev)
bundle=${XDG_DATA_HOME:-$HOME/.local/share}/tracel/tracel-llvm-23.1.0-4

if [[ ! -x $llvm_root/bin/llvm-config && ${1:-} == --install ]]; then
  echo "llvm-offline: installing ${packages[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi
if [[ ! -x $llvm_root/bin/llvm-config ]]; then
  echo "error: $llvm_root/bin/llvm-config not found" >&2
  echo "help: run 'apt-get install -y ${packages[*]}' (or this script with --install)" >&2
  exit 2
fi

wrapper="#!/usr/bin/env bash
set -o pipefail
$llvm_root/bin/llvm-config \"\$@\" | sed 's#/usr/lib/x86_64-linux-gnu/libz3\\.so#-lz3#g'"

if [[ -f $bundle/.tracel-llvm-installed && $(readlink "$bundle/include") == "$llvm_root/include" &&
  $(readlink "$bundle/lib") == "$llvm_root/lib" && -x $bundle/bin/llvm-config &&
  $(cat "$bundle/bin/llvm-config") == "$wrapper" ]]; then
  exit 0
fi

mkdir -p "$bundle/bin"
ln -sfn "$llvm_root/include" "$bundle/include"
ln -sfn "$llvm_root/lib" "$bundle/lib"
printf '%s\n' "$wrapper" >"$bundle/bin/llvm-config.tmp"
chmod +x "$bundle/bin/llvm-config.tmp"
mv "$bundle/bin/llvm-config.tmp" "$bundle/bin/llvm-config"
touch "$bundle/.tracel-llvm-installed"
echo "llvm-offline: $bundle ready (LLVM $("$bundle/bin/llvm-config" --version))" >&2
