#!/usr/bin/env bash
# Benchmark of hoist-store: s5cmd uploads a 2 GiB file (multipart), then curl sends the same
# file as one presigned PUT. Reports MB/s, the store's CPU seconds per GiB and its peak RSS.
# Usage: bench/store.sh [SIZE_MIB]   (default 2048). Needs s5cmd, curl, python3 with boto3.
set -euo pipefail

SIZE_MIB="${1:-2048}"
REPO="$(cd "$(dirname "$0")/.." && pwd)"
cd "$REPO"

echo "building hoist (release)..." >&2
cargo build --release -p hoist --quiet
BIN="$REPO/target/release/hoist"

WORK="$(mktemp -d)"
STORE_PID=""
cleanup() {
  if [[ -n "$STORE_PID" ]] && kill -0 "$STORE_PID" 2>/dev/null; then kill -TERM "$STORE_PID"; wait "$STORE_PID" 2>/dev/null || true; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

export AWS_ACCESS_KEY_ID=AKIDHOISTBENCH AWS_SECRET_ACCESS_KEY=hoistBenchSecretKey0123456789abcdefghij AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1

echo "writing a ${SIZE_MIB} MiB test file..." >&2
head -c "$((SIZE_MIB * 1024 * 1024))" /dev/urandom > "$WORK/payload.bin"

# The store's own counters: CPU ticks (utime + stime) and peak resident set (VmHWM).
cpu_seconds() { awk -v tck="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / tck }' "/proc/$1/stat"; }
peak_rss_mib() { awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
now() { date +%s.%N; }

start_store() {
  rm -rf "$WORK/data"
  "$BIN" store --data "$WORK/data" --listen 127.0.0.1:0 --bucket bench >"$WORK/store.log" 2>&1 &
  STORE_PID=$!
  for _ in $(seq 50); do
    grep -q "listening on" "$WORK/store.log" 2>/dev/null && break
    sleep 0.1
  done
  ENDPOINT="$(grep -o 'http://[0-9.:]*' "$WORK/store.log" | head -1)"
}

stop_store() { kill -TERM "$STORE_PID"; wait "$STORE_PID" 2>/dev/null || true; STORE_PID=""; }

report() { # name seconds cpu_before
  local name="$1" secs="$2" cpu0="$3"
  local cpu1; cpu1="$(cpu_seconds "$STORE_PID")"
  awk -v n="$name" -v s="$secs" -v mib="$SIZE_MIB" -v c0="$cpu0" -v c1="$cpu1" -v rss="$(peak_rss_mib "$STORE_PID")" 'BEGIN {
    gib = mib / 1024
    printf "%-28s %8.1f MB/s  %6.2f s  store CPU %5.2f s/GiB  store peak RSS %6.1f MiB\n", n, mib * 1.048576 / s, s, (c1 - c0) / gib, rss
  }'
}

echo "hoist-store benchmark: ${SIZE_MIB} MiB, $(nproc) cores, $(uname -r)"

start_store
cpu0="$(cpu_seconds "$STORE_PID")"
t0="$(now)"
s5cmd --endpoint-url "$ENDPOINT" cp "$WORK/payload.bin" s3://bench/payload.bin >/dev/null
t1="$(now)"
report "s5cmd cp (multipart)" "$(echo "$t1 - $t0" | bc -l)" "$cpu0"
stop_store

start_store
URL="$(python3 - "$ENDPOINT" <<'PY'
import sys, boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name="us-east-1",
                  config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"))
print(s3.generate_presigned_url("put_object", Params={"Bucket": "bench", "Key": "single.bin"}, ExpiresIn=3600))
PY
)"
cpu0="$(cpu_seconds "$STORE_PID")"
t0="$(now)"
code="$(curl -sS -o /dev/null -w '%{http_code}' -T "$WORK/payload.bin" "$URL")"
t1="$(now)"
[[ "$code" == 200 ]] || { echo "single PUT failed with HTTP $code" >&2; exit 1; }
report "curl single presigned PUT" "$(echo "$t1 - $t0" | bc -l)" "$cpu0"
stop_store

if command -v garage >/dev/null 2>&1; then
  echo "garage is installed, but this script does not configure a garage node yet; comparison skipped"
else
  echo "garage: not installed; comparison skipped"
fi
