#!/usr/bin/env bash
# The test command: formatting, lints, then every test with optimised dependencies.
# Tests whose inputs (../shared, the cached model, Slurm) are absent are skipped and counted at the
# end; LPIPE_REQUIRE_INPUTS=1 (set by .ci/run) makes any such skip a failure instead.
set -euo pipefail
cd "$(dirname "$0")/.."
export LPIPE_CACHE_DIR=${LPIPE_CACHE_DIR:-$PWD/.cache}
skips=$(mktemp)
report_skips() {
  echo "== skipped tests: $(wc -l <"$skips") (inputs absent; LPIPE_REQUIRE_INPUTS=1 fails them instead)"
  sed 's/^/   /' "$skips"
  rm -f "$skips"
}
trap report_skips EXIT
export LPIPE_SKIP_LOG=$skips
cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace
# The CubeCL 4-bit kernels on wgpu (lavapipe on CPU machines); a missing adapter fails here.
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$(mktemp -d)}
LPIPE_REQUIRE_GPU=1 cargo test -p lpipe-kernels --features wgpu
