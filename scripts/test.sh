#!/usr/bin/env bash
# The test command: formatting, lints, then every test with optimised dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
export LPIPE_CACHE_DIR=${LPIPE_CACHE_DIR:-$PWD/.cache}
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
