#!/usr/bin/env bash
# Browser benchmark: in ONE headless Chromium, the same file (SIZE_MIB, default 512 MiB, picked
# from disk with setInputFiles) goes into the same embedded store through the same `hoist serve`,
# in ROUNDS interleaved rounds (default 3; the order rotates), with
#   hoist.js  web/hoist.js with its defaults
#   uppy5     @uppy/core 5.2.0 + @uppy/aws-s3 5.1.0, `endpoint` = hoist serve (Companion routes)
#   uppy6     @uppy/core + @uppy/aws-s3 6.3.1, `signRequest` on hoist's POST /s3/sign
#   ceiling   a bare fetch() PUT loop over hoist's plan, CEILING_CONCURRENCY (6) in flight
# Measured per upload: MiB/s, main-thread busy ms (Performance.getMetrics TaskDuration), long
# tasks, peak JS heap, requests, Chromium CPU by process and hoist serve CPU. Every object is read
# back (size and MD5 against the file's) before its figures count.
#
# Usage: bench/browser.sh [WORKDIR]   (default: a temporary directory, removed at the end)
# Environment: HOIST_BIN (default: a release build of this checkout), ROUNDS (3), SIZE_MIB (512),
# CLIENTS (hoist.js,uppy5,uppy6,ceiling; also ceiling-xhr4, ceiling-fetch4, ceiling-fetchbuf4
# (each part read into an ArrayBuffer first), hoist.js-c6, and hoist.js-alt with
# HOIST_JS_ALT=path/to/another/hoist.js), HOIST_JS (the hoist.js measured),
# STORE_DATA (default: a fresh directory on /dev/shm, so the disk is not measured), TRACE=1 (a
# CDP trace of each client's first upload, summarised in details.json), SERVE_ARGS (more flags
# for hoist serve, e.g. `--part-size 32MiB`: every client that takes hoist's plan gets it).
# STORE_LATENCY_MS (e.g. 40) runs the store alone (`hoist store --fault-latency-ms`), answering
# every request that many ms late, with hoist serve in front of it (--s3-endpoint).
# Writes OUT (default bench/results/browser)/results.csv, details.json and summary.json
# (bench/run.sh browser then draws it with bench/plot.py).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"
here="$REPO/bench/browser"

[ -x /usr/bin/chromium ] || apt_install chromium
if [ ! -f "$here/node_modules/.package-lock.json" ] || [ "$here/package-lock.json" -nt "$here/node_modules/.package-lock.json" ]; then
  (cd "$here" && npm ci --no-audit --no-fund >&2)
fi
HOIST_BIN="$(hoist_release_bin)"
export HOIST_BIN

own_work=""
if [ -n "${1:-}" ]; then WORK="$1"; mkdir -p "$WORK"; else WORK="$(mktemp -d /tmp/hoist-bench-browser.XXXXXX)"; own_work=1; fi
own_store=""
if [ -z "${STORE_DATA:-}" ]; then STORE_DATA="$(mktemp -d /dev/shm/hoist-bench-browser-store.XXXXXX)"; own_store=1; fi
export STORE_DATA
cleanup() {
  if [ -n "$own_store" ]; then rm -rf "$STORE_DATA"; fi
  if [ -n "$own_work" ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
node "$here/run.mjs" "$WORK" "${OUT:-$REPO/bench/results/browser}"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
