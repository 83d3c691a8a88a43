#!/usr/bin/env bash
# Presigning benchmark: hoist against rusty-s3 on GET, PUT and UploadPart URLs, each with and
# without a session token, every case checked to give the same signature with both first
# (crates/hoist-core/benches/presign.rs). Interleaved rounds; per case the median CPU ns per
# URL of each signer, the median ratio and the min–max over rounds. Writes
# bench/results/presign/results.csv and summary.json, then the plots with bench/plot.py.
#
# Usage: bench/presign.sh [criterion arguments…]
# Environment: BENCH_ROUNDS (9, at least 7), BENCH_CRITERION=0 (skip criterion's own runs).
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
cd "$REPO"
OUT=bench/results/presign
mkdir -p "$OUT"
BENCH_OUT="$REPO/$OUT" cargo bench -p hoist-core --bench presign -- "$@"
if [ -f bench/plot.py ]; then
  python3 bench/plot.py "$OUT"
else
  echo "bench/plot.py is missing: $OUT/summary.json written, no plots" >&2
fi
