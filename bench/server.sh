#!/usr/bin/env bash
# Benchmark of the coordinator's hot path: POST /v1/uploads/{id}/parts asking for 1 and for
# 100 part URLs, with wrk on loopback (sharing the machine with the coordinator).
# Prints requests/s, p50/p99 latency and the presigns/s that makes.
#
#   bench/server.sh            # 10 s per case, 2 wrk threads, 64 connections
#   DURATION=30s CONNECTIONS=128 bench/server.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-64}
command -v wrk >/dev/null || { echo "wrk is needed: apt-get install -y wrk" >&2; exit 2; }

cargo build --release -q -p hoist
BIN=target/release/hoist
WORK=$(mktemp -d)
KEY=bench-api-key
OUT="$WORK/serve.out"
"$BIN" serve --listen 127.0.0.1:0 --store-listen 127.0.0.1:0 --data "$WORK/data" \
  --api-key "$KEY" --anonymous=false --rate-limit 0 --log warn >"$OUT" 2>"$WORK/serve.err" &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do grep -q '^hoist coordinator listening on ' "$OUT" && break; sleep 0.1; done
BASE=$(sed -n 's/^hoist coordinator listening on //p' "$OUT")
[ -n "$BASE" ] || { cat "$WORK/serve.err" >&2; exit 1; }

# A 2 GiB multipart upload: 256 parts of 8 MiB, so that 100 numbers are all in range.
ID=$(curl -sf -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' \
  -d '{"size": 2147483648, "filename": "bench.bin"}' "$BASE/v1/uploads" |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')

echo "coordinator $BASE, wrk -t$THREADS -c$CONNECTIONS -d$DURATION, $(nproc) cores shared"
for N in 1 100; do
  LINE=$(HOIST_BENCH_PARTS=$N HOIST_BENCH_PATH="/v1/uploads/$ID/parts" HOIST_BENCH_KEY=$KEY \
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/server/parts.lua "$BASE" |
    grep '^RESULT')
  RPS=$(sed 's/.* rps=\([0-9]*\).*/\1/' <<<"$LINE")
  echo "$LINE presigns_per_s=$((RPS * N))"
  ERRORS=$(sed 's/.* errors=\([0-9]*\).*/\1/' <<<"$LINE")
  [ "$ERRORS" = 0 ] || { echo "$ERRORS requests failed: the figures above mean nothing" >&2; FAILED=1; }
done
curl -s "$BASE/metrics" | grep -E '^hoist_sign_duration_seconds_(sum|count)'
exit "${FAILED:-0}"
