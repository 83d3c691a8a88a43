#!/usr/bin/env bash
# Benchmark of hoist-store: s5cmd uploads a 2 GiB file (multipart), then curl sends the same
# file as one presigned PUT. Reports MB/s, the store's CPU seconds per GiB and its peak RSS.
# When garage is installed (on PATH, at $GARAGE_BIN or /opt/garage/bin/garage; `cargo install
# garage --locked`), a single-node garage on loopback gets the same two uploads.
# Usage: [HOIST_BIN=PATH] bench/store.sh [SIZE_MIB]   (default 2048). Needs s5cmd, curl, python3 with boto3.
set -euo pipefail

SIZE_MIB="${1:-2048}"
REPO="$(cd "$(dirname "$0")/.." && pwd)"
cd "$REPO"

# HOIST_BIN: measure that binary instead of building target/release/hoist (to compare builds,
# e.g. release profiles, side by side).
if [[ -n "${HOIST_BIN:-}" ]]; then
  BIN="$HOIST_BIN"
else
  echo "building hoist (release)..." >&2
  cargo build --release -p hoist --quiet
  BIN="$REPO/target/release/hoist"
fi

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
    printf "%-36s %8.1f MB/s  %6.2f s  store CPU %5.2f s/GiB  store peak RSS %6.1f MiB\n", n, mib * 1.048576 / s, s, (c1 - c0) / gib, rss
  }'
}

echo "hoist-store benchmark: ${SIZE_MIB} MiB, $(nproc) cores, $(uname -r)"

# run_clients LABEL REGION BUCKET: the two uploads against $ENDPOINT, measured on $STORE_PID.
run_clients() {
  local label="$1" region="$2" bucket="$3"
  cpu0="$(cpu_seconds "$STORE_PID")"
  t0="$(now)"
  AWS_REGION="$region" s5cmd --endpoint-url "$ENDPOINT" cp "$WORK/payload.bin" "s3://$bucket/payload.bin" >/dev/null
  t1="$(now)"
  report "$label: s5cmd cp (multipart)" "$(echo "$t1 - $t0" | bc -l)" "$cpu0"
  URL="$(python3 - "$ENDPOINT" "$region" "$bucket" <<'PY'
import sys, boto3
from botocore.config import Config
s3 = boto3.client("s3", endpoint_url=sys.argv[1], region_name=sys.argv[2],
                  config=Config(s3={"addressing_style": "path"}, signature_version="s3v4"))
print(s3.generate_presigned_url("put_object", Params={"Bucket": sys.argv[3], "Key": "single.bin"}, ExpiresIn=3600))
PY
)"
  cpu0="$(cpu_seconds "$STORE_PID")"
  t0="$(now)"
  code="$(curl -sS -o /dev/null -w '%{http_code}' -T "$WORK/payload.bin" "$URL")"
  t1="$(now)"
  [[ "$code" == 200 ]] || { echo "$label: single PUT failed with HTTP $code" >&2; exit 1; }
  report "$label: curl presigned PUT" "$(echo "$t1 - $t0" | bc -l)" "$cpu0"
}

hex() { head -c "$1" /dev/urandom | od -An -tx1 | tr -d ' \n'; }

start_store
run_clients hoist-store us-east-1 bench
stop_store

GARAGE="${GARAGE_BIN:-$(command -v garage || echo /opt/garage/bin/garage)}"
if [[ -x "$GARAGE" ]]; then
  free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
  S3_PORT="$(free_port)"; RPC_PORT="$(free_port)"
  mkdir -p "$WORK/garage"
  cat > "$WORK/garage/garage.toml" <<EOF
metadata_dir = "$WORK/garage/meta"
data_dir = "$WORK/garage/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:$RPC_PORT"
rpc_public_addr = "127.0.0.1:$RPC_PORT"
rpc_secret = "$(hex 32)"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:$S3_PORT"
root_domain = ".s3.garage.localhost"
EOF
  # garage's key ids are GK and 24 hex digits, its secrets 64 hex digits.
  GK="GK$(hex 12)"; GS="$(hex 32)"
  GARAGE_DEFAULT_ACCESS_KEY="$GK" GARAGE_DEFAULT_SECRET_KEY="$GS" GARAGE_DEFAULT_BUCKET=bench \
    "$GARAGE" -c "$WORK/garage/garage.toml" server --single-node --default-bucket > "$WORK/garage.log" 2>&1 &
  STORE_PID=$!
  ENDPOINT="http://127.0.0.1:$S3_PORT"
  for _ in $(seq 100); do
    [[ "$(curl -s -o /dev/null -w '%{http_code}' "$ENDPOINT/")" != 000 ]] && break
    sleep 0.1
  done
  echo "$("$GARAGE" --version | head -1), single node, sqlite metadata"
  AWS_ACCESS_KEY_ID="$GK" AWS_SECRET_ACCESS_KEY="$GS" run_clients garage garage bench
  stop_store
else
  echo "garage: not installed (cargo install garage --locked); comparison skipped"
fi
