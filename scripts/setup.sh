#!/usr/bin/env bash
# Install what lpipe's build and tests need on a fresh Debian machine, and fetch the demo model.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
if ! command -v cargo >/dev/null; then
  echo "cargo not found: install Rust 1.95+ (rustup) first" >&2
  exit 2
fi
"$root/scripts/fetch-model.sh"
