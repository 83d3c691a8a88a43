#!/usr/bin/env bash
# The browser benchmark against a distant store: the same clients, file and Chromium as
# bench/browser.sh, but the store runs alone (`hoist store --fault-latency-ms`) and answers
# every request STORE_LATENCY_MS (default 40) ms late, CORS preflights included, as a store
# across a long link does; hoist serve fronts it with --s3-endpoint. Every part then pays that
# wait twice (its preflight and its PUT), whatever its size.
#
# Usage: bench/browser-latency.sh [WORKDIR]   (the environment of bench/browser.sh applies)
# Writes bench/results/browser-latency/ (bench/run.sh browser-latency then draws it).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
export STORE_LATENCY_MS="${STORE_LATENCY_MS:-40}"
export OUT="${OUT:-$REPO/bench/results/browser-latency}"
exec "$REPO/bench/browser.sh" "$@"
