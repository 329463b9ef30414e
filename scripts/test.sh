#!/usr/bin/env bash
# The test command: formatting, lints, then every test with optimised dependencies.
set -euo pipefail
cd "$(dirname "$0")/.."
export LPIPE_CACHE_DIR=${LPIPE_CACHE_DIR:-$PWD/.cache}
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
# The CubeCL 4-bit kernels on wgpu (lavapipe on CPU machines); a missing adapter fails here.
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
LPIPE_REQUIRE_GPU=1 cargo test -p lpipe-kernels --features wgpu
