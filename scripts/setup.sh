#!/usr/bin/env bash
# Install what lpipe's build and tests need on a fresh Debian machine, and fetch the demo model.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v cargo >/dev/null; then
  echo "cargo not found: install Rust 1.95+ (rustup) first" >&2
  exit 2
fi
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  # fonts for `lpipe report --plot`; slurm-wlm/munge for the single-node Slurm test
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    fonts-dejavu-core >/dev/null
  # Mesa's lavapipe Vulkan driver: the CubeCL 4-bit kernels run on the CPU through wgpu
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    mesa-vulkan-drivers libvulkan1 >/dev/null
  "$root/scripts/slurm-up.sh"
fi
"$root/scripts/fetch-model.sh"
