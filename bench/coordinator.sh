#!/usr/bin/env bash
# The coordinator against @uppy/companion 6.2.2, side by side in one run, both doing S3
# multipart against the same `hoist store` on loopback:
#   sign    hoist GET /s3/multipart/{uploadId}/{partNumber} (its Companion-compatible route)
#           and POST /v1/uploads/{id}/parts (one number), against Companion's
#           GET /s3/multipart/{uploadId}/{partNumber}
#   create  hoist POST /s3/multipart and POST /v1/uploads (2 GiB, multipart: CreateMultipartUpload
#           plus the first part URLs), against Companion's POST /s3/multipart; and the store's
#           CreateMultipartUpload alone, on a presigned URL, as the ceiling of every create.
# wrk drives each route with CONNECTIONS connections for DURATION, after WARMUP unrecorded.
# The servers (coordinator, Companion, store) are pinned to SERVER_CPU/STORE_CPU and wrk to
# CLIENT_CPU. Each of ROUNDS rounds starts a fresh store, coordinator and Companion and runs
# the routes in a rotated order. Non-2xx answers and socket errors are counted as errors.
# Alongside: the CPU each process spent per request and the store's own time per
# CreateMultipartUpload (its /_hoist/metrics) in breakdown.csv; with BREAKDOWN=1, a pass with
# the store on tmpfs (what fsync costs a create) and strace -c of a create run.
#
#   bench/coordinator.sh                       # 3 rounds, 10 s per route, 64 connections
#   ROUNDS=5 DURATION=30s bench/coordinator.sh
#   HOIST_BIN=/path/to/hoist bench/coordinator.sh
#
# Settings: DURATION (10s), WARMUP (2s), CONNECTIONS (64), THREADS (wrk threads, 1),
# TIMEOUT (wrk's per-request timeout, 10s), ROUNDS (3), SERVER_CPU (0), STORE_CPU (0),
# CLIENT_CPU (1), STORE_PARENT (where the store's data directory is made: $TMPDIR or /tmp,
# on disk), BREAKDOWN (1), OUT (bench/results/coordinator), COMPANION_SDK_CHECKSUMS (see
# bench/coordinator/companion-server.mjs).
set -euo pipefail
REPO="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=bench/lib.sh
. "$REPO/bench/lib.sh"
cd "$REPO"

DURATION=${DURATION:-10s}
WARMUP=${WARMUP:-2s}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-1}
TIMEOUT=${TIMEOUT:-10s}
ROUNDS=${ROUNDS:-3}
SERVER_CPU=${SERVER_CPU:-0}
STORE_CPU=${STORE_CPU:-0}
CLIENT_CPU=${CLIENT_CPU:-1}
STORE_PARENT=${STORE_PARENT:-${TMPDIR:-/tmp}}
BREAKDOWN=${BREAKDOWN:-1}
OUT=${OUT:-bench/results/coordinator}
DIR=bench/coordinator
COMPANION_VERSION=6.2.2

# Peers, from the registries when missing.
command -v wrk >/dev/null || apt_install wrk
command -v taskset >/dev/null || apt_install util-linux
command -v node >/dev/null || apt_install nodejs npm
installed=$(node -p "require('./$DIR/node_modules/@uppy/companion/package.json').version" 2>/dev/null || true)
if [ "$installed" != "$COMPANION_VERSION" ]; then
  echo "installing @uppy/companion@$COMPANION_VERSION (npm)…" >&2
  npm install --prefix "$DIR" --no-audit --no-fund --silent --save-exact "@uppy/companion@$COMPANION_VERSION" >&2
fi
if [ "$BREAKDOWN" = 1 ] && ! command -v strace >/dev/null; then apt_install strace; fi

HOIST=$(hoist_release_bin)
HOIST_VERSION=$("$HOIST" --version | sed -n 's/.*(\(.*\)).*/\1/p')
[ -n "$HOIST_VERSION" ] && [ "$HOIST_VERSION" != unknown ] || HOIST_VERSION=$(git rev-parse --short HEAD)

BUCKET=bench
AK=AKIDHOISTCOORDBENCH
SK=coordBenchSecretKey0123456789abcdefghij
API_KEY=bench-coordinator-key
CREATE_BODY='{"filename":"bench.bin","type":"application/octet-stream","metadata":{}}'
V1_BODY='{"size":2147483648,"filename":"bench.bin","content_type":"application/octet-stream"}'

WORK=$(mktemp -d "${TMPDIR:-/tmp}/hoist-coord-bench.XXXXXX")
PIDS=()
stop_all() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
}
cleanup() {
  stop_all
  rm -rf "$WORK"
  [ -z "${DATA:-}" ] || rm -rf "$DATA"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_line() { # FILE PATTERN: the text after PATTERN on the first line starting with it
  local i
  for i in $(seq 200); do
    if grep -q "^$2" "$1" 2>/dev/null; then sed -n "s|^$2||p" "$1" | head -1; return; fi
    sleep 0.05
  done
  echo "no '$2' in $1:" >&2; cat "$1" "${1%.out}.err" >&2 2>/dev/null; return 1
}
json_field() { python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
urlenc() { python3 -c 'import sys,urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# Ticks the whole machine spent busy (user, nice, system, irq, softirq, steal), every core.
machine_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8 + $9; exit}' /proc/stat; }
# Waits until the given processes are idle (at most 1 tick of CPU in 0.5 s) and so is the
# machine (at most 10 ticks in 0.5 s, all cores: the kernel's writeback of a round's files or
# another process would otherwise run during the next measurement); 60 s at most. Requests a
# stopped wrk left queued (Companion's backlog can take seconds) must not eat into the next
# measurement either.
wait_idle() {
  local i a b m0 m1 p
  for i in $(seq 120); do
    a=0; for p in "$@"; do a=$((a + $(cpu_ticks "$p"))); done
    m0=$(machine_ticks)
    sleep 0.5
    b=0; for p in "$@"; do b=$((b + $(cpu_ticks "$p"))); done
    m1=$(machine_ticks)
    [ $((b - a)) -gt 1 ] || [ $((m1 - m0)) -gt 10 ] || return 0
  done
  echo "still busy after 60 s: $* ($((b - a)) ticks; the machine $((m1 - m0)) in the last 0.5 s)" >&2
}
store_creates() { # count and seconds of CreateMultipartUpload in the store's own metrics
  curl -sf "$STORE/_hoist/metrics" | awk '
    /^hoist_store_request_duration_seconds_sum\{operation="CreateMultipartUpload"\}/ {s=$2}
    /^hoist_store_request_duration_seconds_count\{operation="CreateMultipartUpload"\}/ {c=$2}
    END {printf "%d %s\n", c+0, s+0}'
}

# Starts a store (data under $1), the coordinator in front of it and Companion in front of it.
start_stack() {
  DATA=$(mktemp -d "$1/hoist-coord-store.XXXXXX")
  local s="$WORK/store" c="$WORK/serve" n="$WORK/companion"
  rm -f "$s".* "$c".* "$n".*
  taskset -c "$STORE_CPU" "$HOIST" store --data "$DATA/store" --listen 127.0.0.1:0 \
    --bucket "$BUCKET" --access-key "$AK" --secret-key "$SK" --log warn >"$s.out" 2>"$s.err" &
  STORE_PID=$!
  PIDS+=("$STORE_PID")
  STORE=$(wait_line "$s.out" 'hoist store listening on ')
  env -u AWS_PROFILE -u AWS_SESSION_TOKEN -u AWS_ENDPOINT_URL \
    AWS_ACCESS_KEY_ID="$AK" AWS_SECRET_ACCESS_KEY="$SK" AWS_REGION=us-east-1 \
    taskset -c "$SERVER_CPU" "$HOIST" serve --listen 127.0.0.1:0 --s3-endpoint "$STORE" \
    --bucket "$BUCKET" --data "$DATA/serve" --api-key "$API_KEY" --anonymous=false \
    --rate-limit 0 --max-open-uploads 0 --log warn >"$c.out" 2>"$c.err" &
  SERVE_PID=$!
  PIDS+=("$SERVE_PID")
  HOIST_URL=$(wait_line "$c.out" 'hoist coordinator listening on ')
  local port
  port=$(free_port)
  mkdir -p "$DATA/companion"
  env NODE_ENV=production COMPANION_PORT="$port" COMPANION_DATA="$DATA/companion" \
    S3_ENDPOINT="$STORE" S3_BUCKET="$BUCKET" S3_KEY="$AK" S3_SECRET="$SK" S3_REGION=us-east-1 \
    taskset -c "$SERVER_CPU" node "$DIR/companion-server.mjs" >"$n.out" 2>"$n.err" &
  COMPANION_PID=$!
  PIDS+=("$COMPANION_PID")
  COMPANION_URL=$(wait_line "$n.out" 'companion listening on ')

  # One upload through each, for the signing routes; a presigned CreateMultipartUpload.
  local a="Authorization: Bearer $API_KEY" j='Content-Type: application/json' r
  r=$(curl -sf -H "$a" -H "$j" -d "$CREATE_BODY" "$HOIST_URL/s3/multipart")
  HOIST_SIGN_PATH="/s3/multipart/$(json_field uploadId <<<"$r")/1?key=$(urlenc "$(json_field key <<<"$r")")"
  r=$(curl -sf -H "$a" -H "$j" -d "$V1_BODY" "$HOIST_URL/v1/uploads")
  HOIST_PARTS_PATH="/v1/uploads/$(json_field id <<<"$r")/parts"
  r=$(curl -sf -H "$j" -d "$CREATE_BODY" "$COMPANION_URL/s3/multipart")
  COMPANION_SIGN_PATH="/s3/multipart/$(json_field uploadId <<<"$r")/1?key=$(urlenc "$(json_field key <<<"$r")")"
  local url
  url=$("$HOIST" presign --method POST --endpoint "$STORE" --bucket "$BUCKET" \
    --key bench/direct.bin --query uploads= --access-key "$AK" --secret-key "$SK" --expires 86400)
  STORE_CREATE_PATH=${url#"$STORE"}
  # Every route answers 2xx once before it is measured.
  curl -sf -o /dev/null -H "$a" "$HOIST_URL$HOIST_SIGN_PATH"
  curl -sf -o /dev/null -H "$a" -H "$j" -d '{"numbers":[1]}' "$HOIST_URL$HOIST_PARTS_PATH"
  curl -sf -o /dev/null "$COMPANION_URL$COMPANION_SIGN_PATH"
  curl -sf -o /dev/null -X POST "$STORE$STORE_CREATE_PATH"
}

stop_stack() {
  stop_all
  rm -rf "$DATA"
  DATA=
}

# One case: SERVER ROUTE-LABEL then the wrk request (base URL, method, path, body, bearer).
# Appends a row to results.csv and one to breakdown.csv.
run_case() {
  local round=$1 server=$2 route=$3 base=$4 method=$5 path=$6 body=$7 auth=$8 pid
  case $server in hoist) pid=$SERVE_PID ;; companion) pid=$COMPANION_PID ;; store) pid=$STORE_PID ;; esac
  local wrk=(taskset -c "$CLIENT_CPU" wrk -t"$THREADS" -c"$CONNECTIONS" --timeout "$TIMEOUT"
    --latency -s "$DIR/request.lua")
  export BENCH_METHOD=$method BENCH_PATH=$path BENCH_BODY=$body BENCH_AUTH=$auth
  wait_idle "$SERVE_PID" "$COMPANION_PID" "$STORE_PID"
  "${wrk[@]}" -d"$WARMUP" "$base" >/dev/null
  wait_idle "$SERVE_PID" "$COMPANION_PID" "$STORE_PID"
  local load s0 p0 m0 s1 p1 m1 line
  load=$(cut -d' ' -f1 /proc/loadavg)
  s0=$(cpu_ticks "$STORE_PID")
  p0=$(cpu_ticks "$pid")
  m0=$(store_creates)
  line=$("${wrk[@]}" -d"$DURATION" "$base" | grep '^RESULT')
  s1=$(cpu_ticks "$STORE_PID")
  p1=$(cpu_ticks "$pid")
  m1=$(store_creates)
  echo "round $round  $server  $route  ${line#RESULT }  load $load"
  python3 - "$round" "$server" "$route" "$line" "$load" "$s0" "$s1" "$p0" "$p1" "$m0" "$m1" \
    "$(getconf CLK_TCK)" "$OUT" <<'EOF'
import csv, sys
(rnd, server, route, line, load, s0, s1, p0, p1, m0, m1, tck, out) = sys.argv[1:]
f = dict(kv.split("=") for kv in line.split()[1:])
reqs = int(f["requests"])
errors = int(f["non2xx"]) + int(f["socket_errors"])
with open(f"{out}/results.csv", "a", newline="") as fh:
    csv.writer(fh).writerow([rnd, server, route, f["rps"], f["p50_ms"], f["p99_ms"], errors])
tck = int(tck)
per = lambda a, b: round((int(b) - int(a)) / tck / max(reqs, 1) * 1e6, 1)
c0, t0 = m0.split(); c1, t1 = m1.split()
creates = int(c1) - int(c0)
mean = round((float(t1) - float(t0)) / creates * 1000, 3) if creates else ""
server_cpu = per(p0, p1) if server != "store" else ""
with open(f"{out}/breakdown.csv", "a", newline="") as fh:
    csv.writer(fh).writerow([rnd, server, route, reqs, server_cpu, per(s0, s1), creates, mean, load])
EOF
}

SIGN_UPPY='GET /s3/multipart/{uploadId}/{partNumber}'
SIGN_V1='POST /v1/uploads/{id}/parts'
CREATE_UPPY='POST /s3/multipart'
CREATE_V1='POST /v1/uploads'
CREATE_STORE='POST /{bucket}/{key}?uploads'
case_args() { # the run_case arguments of case $1
  case $1 in
    0) echo hoist; echo "$SIGN_UPPY"; echo "$HOIST_URL"; echo GET; echo "$HOIST_SIGN_PATH"; echo; echo "$API_KEY" ;;
    1) echo companion; echo "$SIGN_UPPY"; echo "$COMPANION_URL"; echo GET; echo "$COMPANION_SIGN_PATH"; echo; echo ;;
    2) echo hoist; echo "$SIGN_V1"; echo "$HOIST_URL"; echo POST; echo "$HOIST_PARTS_PATH"; echo '{"numbers":[1]}'; echo "$API_KEY" ;;
    3) echo hoist; echo "$CREATE_UPPY"; echo "$HOIST_URL"; echo POST; echo /s3/multipart; echo "$CREATE_BODY"; echo "$API_KEY" ;;
    4) echo companion; echo "$CREATE_UPPY"; echo "$COMPANION_URL"; echo POST; echo /s3/multipart; echo "$CREATE_BODY"; echo ;;
    5) echo hoist; echo "$CREATE_V1"; echo "$HOIST_URL"; echo POST; echo /v1/uploads; echo "$V1_BODY"; echo "$API_KEY" ;;
    6) echo store; echo "$CREATE_STORE"; echo "$STORE"; echo POST; echo "$STORE_CREATE_PATH"; echo; echo ;;
  esac
}
CASES=7
run_numbered() { # ROUND CASE
  local args=()
  mapfile -t args < <(case_args "$2")
  run_case "$1" "${args[@]}"
}

mkdir -p "$OUT"
echo "round,server,route,req_per_s,p50_ms,p99_ms,errors" >"$OUT/results.csv"
echo "round,server,route,requests,server_cpu_us_per_req,store_cpu_us_per_req,store_creates,store_create_mean_ms,load1" >"$OUT/breakdown.csv"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
echo "hoist $HOIST_VERSION ($HOIST), @uppy/companion $COMPANION_VERSION, node $(node --version), $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2)"
echo "wrk -t$THREADS -c$CONNECTIONS -d$DURATION (warm-up $WARMUP) on cpu $CLIENT_CPU; servers on cpu $SERVER_CPU, store on cpu $STORE_CPU, data under $STORE_PARENT; load $LOAD_START"
for round in $(seq "$ROUNDS"); do
  start_stack "$STORE_PARENT"
  # A rotated order each round, so no route always runs first or against a fuller store.
  for k in $(seq 0 $((CASES - 1))); do
    run_numbered "$round" $(((k + 3 * (round - 1)) % CASES))
  done
  stop_stack
done
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

if [ "$BREAKDOWN" = 1 ]; then
  # The create routes once more with the store on tmpfs, where fsync costs nothing ("round" tmpfs).
  if [ -d /dev/shm ]; then
    start_stack /dev/shm
    for k in 6 3 4; do run_numbered tmpfs "$k"; done
    stop_stack
  fi
  # strace -c of the store and of the coordinator through one create run (slowed by strace:
  # the counts per request matter, not the rate).
  start_stack "$STORE_PARENT"
  local_dur=${STRACE_DURATION:-5s}
  strace -c -f -p "$STORE_PID" -o "$OUT/strace-store.txt" &
  st1=$!
  strace -c -f -p "$SERVE_PID" -o "$OUT/strace-coordinator.txt" &
  st2=$!
  sleep 1
  BENCH_METHOD=POST BENCH_PATH=/s3/multipart BENCH_BODY=$CREATE_BODY BENCH_AUTH=$API_KEY \
    taskset -c "$CLIENT_CPU" wrk -t"$THREADS" -c"$CONNECTIONS" -d"$local_dur" --timeout "$TIMEOUT" \
    --latency -s "$DIR/request.lua" "$HOIST_URL" | grep '^RESULT' | sed 's/^/strace run: /' |
    tee "$OUT/strace-run.txt"
  store_creates | awk '{print "store CreateMultipartUpload count " $1}' >>"$OUT/strace-run.txt"
  kill -INT "$st1" "$st2"
  wait "$st1" "$st2" 2>/dev/null || true
  stop_stack
fi

python3 "$DIR/summarize.py" "$OUT" \
  --hoist "$HOIST_VERSION" --companion "$COMPANION_VERSION" --node "$(node --version)" \
  --wrk "$(wrk --version 2>&1 | head -1 | cut -d' ' -f2)" --load-start "$LOAD_START" --load-end "$LOAD_END" \
  --connections "$CONNECTIONS" --setup "wrk -t$THREADS -c$CONNECTIONS -d$DURATION after a $WARMUP warm-up, pinned to cpu $CLIENT_CPU; coordinator and Companion on cpu $SERVER_CPU, store on cpu $STORE_CPU with its data under $STORE_PARENT; $ROUNDS rounds"
