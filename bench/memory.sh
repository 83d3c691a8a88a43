#!/usr/bin/env bash
# Memory per open multipart upload, at up to 100,000 open uploads, in the embedded store
# (`hoist store`) and in the coordinator (`hoist serve --s3-endpoint` in front of a hoist store).
#
# store phase: CreateMultipartUpload ×N against a fresh `hoist store` whose data directory is
# on disk; the store's VmRSS/VmHWM/RssAnon (/proc/PID/status) and the data directory's size
# (du) are read at each step (STEPS) after SETTLE seconds; then every upload is aborted and
# the store sampled again (at once and AFTER_WAIT seconds later).
# coordinator phase: `POST /v1/uploads` ×N (1 GiB, multipart, CRC-64/NVME, as `hoist upload
# --server` asks) against a fresh coordinator in front of a fresh store (on tmpfs by default:
# the coordinator is measured, the store's disk only slows it down), both sampled at each
# step; then `DELETE /v1/uploads/{id}` for each. The coordinator's per-caller limits are
# raised (rate, burst, open uploads) so that one API key may open N uploads.
#
# Usage: [HOIST_BIN=PATH] bench/memory.sh [WORKDIR]
# Environment: HOIST_BIN (default /work/bench-bin/hoist-head if present, else a release build),
# STEPS (1000,10000,25000,50000,75000,100000), THREADS (32 client connections), SETTLE (3 s),
# AFTER_WAIT (30 s), CYCLES (2: the coordinator phase opens and aborts the uploads a second time,
# to tell memory the allocator keeps for reuse from memory lost), PHASES ("store coord"), STORE_DATA (the store phase's data directory,
# default WORKDIR/store, on disk), COORD_STORE_DATA (the coordinator phase's store, default
# /dev/shm/hoist-mem.PID), OUT (bench/results/memory).
# Writes OUT/raw.csv (every sample), OUT/results.csv (process,open_uploads,rss_kib,hwm_kib),
# OUT/summary.json, then draws with bench/plot.py when it is there.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
KEEP_WORK=${1:+1}
WORK="${1:-$(mktemp -d /tmp/hoist-memory.XXXXXX)}"
STEPS="${STEPS:-1000,10000,25000,50000,75000,100000}"
THREADS="${THREADS:-32}"
SETTLE="${SETTLE:-3}"
AFTER_WAIT="${AFTER_WAIT:-30}"
CYCLES="${CYCLES:-2}"
PHASES="${PHASES:-store coord}"
OUT="${OUT:-$REPO/bench/results/memory}"
BUCKET=bench
API_KEY=benchApiKey-0123456789abcdef
export AWS_ACCESS_KEY_ID=AKIDHOISTBENCH
export AWS_SECRET_ACCESS_KEY=benchSecretKey0123456789abcdefghijklmnop
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
mkdir -p "$WORK" "$OUT"
WORK="$(cd "$WORK" && pwd)"
STORE_DATA="${STORE_DATA:-$WORK/store}"
COORD_STORE_DATA="${COORD_STORE_DATA:-/dev/shm/hoist-mem.$$}"
MAX_OPEN=$(( $(echo "$STEPS" | tr ',' '\n' | sort -n | tail -1) * 2 ))

if [ -n "${HOIST_BIN:-}" ]; then
  HOIST="$HOIST_BIN"
elif [ -x /work/bench-bin/hoist-head ]; then
  HOIST=/work/bench-bin/hoist-head
else
  echo "building hoist (release)…" >&2
  cargo build --release -p hoist --manifest-path "$REPO/Cargo.toml" >&2
  HOIST="${CARGO_TARGET_DIR:-$REPO/target}/release/hoist"
fi
echo "hoist: $HOIST ($("$HOIST" --version))" >&2

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$STORE_DATA" "$COORD_STORE_DATA" "$WORK/coord"
  if [ -z "$KEEP_WORK" ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT

# wait_url LOG: the first http://… URL a server printed on its line "… listening on http://…".
wait_url() {
  for _ in $(seq 100); do grep -q 'listening on http' "$1" 2>/dev/null && break; sleep 0.1; done
  grep -o 'listening on http://[0-9.:]*' "$1" | head -1 | sed 's/^listening on //'
}

# start_store DATA LOG: a fresh store; sets STORE_PID and EP.
start_store() {
  rm -rf "$1"
  "$HOIST" store --listen 127.0.0.1:0 --data "$1" --bucket "$BUCKET" \
    --access-key "$AWS_ACCESS_KEY_ID" --secret-key "$AWS_SECRET_ACCESS_KEY" --log warn \
    > "$2" 2>&1 &
  STORE_PID=$!
  PIDS+=("$STORE_PID")
  EP="$(wait_url "$2")"
  [ -n "$EP" ] || { echo "the store did not start:" >&2; cat "$2" >&2; exit 1; }
}

stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }

RAW="$OUT/raw.csv"
echo "phase,process,open_uploads,rss_kib,hwm_kib,anon_kib,du_kib,du_apparent_kib,seconds,errors,load1,run" > "$RAW"
LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"

for phase in $PHASES; do
  case "$phase" in
    store)
      echo "== store: CreateMultipartUpload up to $STEPS (data on $(df --output=fstype "$(dirname "$STORE_DATA")" | tail -1))" >&2
      start_store "$STORE_DATA" "$WORK/store.log"
      python3 "$REPO/bench/memory/drive.py" store "$EP" "$BUCKET" --pid "store=$STORE_PID" \
        --csv "$WORK/store.csv" --steps "$STEPS" --threads "$THREADS" --settle "$SETTLE" \
        --after-wait "$AFTER_WAIT" --du "$STORE_DATA" --verify "$EP"
      sed 's/$/,store/' "$WORK/store.csv" >> "$RAW"
      stop "$STORE_PID"
      rm -rf "$STORE_DATA"
      ;;
    coord)
      echo "== coordinator: POST /v1/uploads up to $STEPS (its store on $COORD_STORE_DATA)" >&2
      start_store "$COORD_STORE_DATA" "$WORK/store2.log"
      rm -rf "$WORK/coord"
      "$HOIST" serve --listen 127.0.0.1:0 --data "$WORK/coord" --s3-endpoint "$EP" --bucket "$BUCKET" \
        --api-key "$API_KEY" --rate-limit 1000000 --rate-burst 1000000 \
        --max-open-uploads "$MAX_OPEN" --log warn > "$WORK/coord.log" 2>&1 &
      COORD_PID=$!
      PIDS+=("$COORD_PID")
      CO="$(wait_url "$WORK/coord.log")"
      [ -n "$CO" ] || { echo "the coordinator did not start:" >&2; cat "$WORK/coord.log" >&2; exit 1; }
      python3 "$REPO/bench/memory/drive.py" coord "$CO" --api-key "$API_KEY" \
        --pid "coordinator=$COORD_PID" --pid "store (behind the coordinator)=$STORE_PID" \
        --csv "$WORK/coord.csv" --steps "$STEPS" --threads "$THREADS" --settle "$SETTLE" \
        --after-wait "$AFTER_WAIT" --cycles "$CYCLES" --verify "$EP"
      sed 's/$/,coord/' "$WORK/coord.csv" >> "$RAW"
      stop "$COORD_PID"
      stop "$STORE_PID"
      rm -rf "$COORD_STORE_DATA" "$WORK/coord"
      ;;
    *) echo "unknown phase $phase" >&2; exit 2 ;;
  esac
done

python3 "$REPO/bench/memory/summarize.py" "$OUT" --hoist "$HOIST" --load-start "$LOAD_START"
if [ -f "$REPO/bench/plot.py" ]; then
  python3 "$REPO/bench/plot.py" "$OUT"
fi
echo "results in $OUT" >&2
