#!/usr/bin/env bash
# Memory per slow download: the embedded store against single-node garage 2.5, each serving
# up to 448 clients that GET a 256 MiB object and read it slowly (16 KiB every 200 ms, a 64 KiB
# receive window), as browsers on slow links do. The server's RSS is read at each step. Results,
# a plot and a README go to bench/results/downloads/.
#
# Usage: bench/run.sh downloads    (or bench/downloads.sh [WORKDIR])
# Environment: HOIST_BIN (default: cargo build --release), GARAGE_BIN (default: garage on PATH or
# /opt/garage/bin/garage, built once when missing), STORES ("hoist-store garage"),
# STEPS (0,64,128,256,448), SIZE_MIB (256), SETTLE (5 s).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
source "$REPO/bench/lib.sh"

store_bench_setup "${1:-}" downloads
python3 "$REPO/bench/downloads.py"
