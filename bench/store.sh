#!/usr/bin/env bash
# The embedded store against single-node garage 2.5 with the same clients in one run: a 2 GiB
# upload with s5cmd and with hoist, the download with s5cmd, and 10,000 PUTs of 16 KiB files.
# Reports throughput, the store's CPU seconds per GiB (or per 10,000 objects), its peak RSS and,
# from one untimed pass under `strace -c -f`, the syscalls that dominate. Results, plots and a
# README go to bench/results/store/.
#
# Usage: bench/run.sh store    (or bench/store.sh [WORKDIR])
# Environment: HOIST_BIN (default: cargo build --release), GARAGE_BIN (default: garage on PATH or
# /opt/garage/bin/garage, built once with `cargo install garage --locked` when missing),
# SIZE_MIB (2048), SMALL_FILES (10000), ROUNDS (3), WARMUP (1 untimed round first), STORES,
# WORKLOADS, STRACE (1).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
source "$REPO/bench/lib.sh"

store_bench_setup "${1:-}" store
command -v strace >/dev/null || apt_install strace
python3 "$REPO/bench/store.py"

