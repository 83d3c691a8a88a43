#!/usr/bin/env bash
# Upload benchmark: the same 2 GiB file into the same embedded store with `hoist upload`,
# `s5cmd cp`, `aws s3 cp` and `rclone copyto`, one after the other; then hoist's peak RSS
# while sending a 10 GiB file. Prints a markdown table and writes it to bench/upload/results.md.
#
# Usage: bench/upload.sh [WORKDIR]   (default: a temporary directory; needs ~25 GiB free)
# Needs: /usr/bin/time (apt-get install -y time), s5cmd, awscli, rclone (apt-get install -y rclone).
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${1:-$(mktemp -d /tmp/hoist-bench.XXXXXX)}"
SIZE_GIB="${SIZE_GIB:-2}"
BIG_GIB="${BIG_GIB:-10}"
BUCKET=bench
export AWS_ACCESS_KEY_ID=AKIDHOISTBENCH
export AWS_SECRET_ACCESS_KEY=benchSecretKey0123456789abcdefghijklmnop
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
mkdir -p "$WORK"

echo "building hoist (release)…" >&2
cargo build --release -p hoist --manifest-path "$REPO/Cargo.toml" >&2
HOIST="$REPO/target/release/hoist"

"$HOIST" store --listen 127.0.0.1:0 --data "$WORK/store" --bucket "$BUCKET" \
  --access-key "$AWS_ACCESS_KEY_ID" --secret-key "$AWS_SECRET_ACCESS_KEY" > "$WORK/store.log" 2>&1 &
STORE_PID=$!
trap 'kill $STORE_PID 2>/dev/null || true; rm -f "$WORK/data.bin" "$WORK/big.bin"' EXIT
for _ in $(seq 50); do grep -q 'listening on' "$WORK/store.log" 2>/dev/null && break; sleep 0.1; done
EP="$(grep -o 'http://[0-9.:]*' "$WORK/store.log" | head -1)"
export AWS_ENDPOINT_URL="$EP"
echo "store at $EP (pid $STORE_PID)" >&2

DATA="$WORK/data.bin"
if [ ! -s "$DATA" ]; then
  echo "writing ${SIZE_GIB} GiB of random data…" >&2
  head -c "$((SIZE_GIB << 30))" /dev/urandom > "$DATA"
fi
BYTES=$(stat -c %s "$DATA")
cat "$DATA" > /dev/null   # every tool reads from the page cache

RESULTS="$WORK/results.tsv"
: > "$RESULTS"

# measure NAME COMMAND…: wall seconds, user+sys CPU seconds and peak RSS of the client.
measure() {
  local name=$1; shift
  sync
  /usr/bin/time -f '%e %U %S %M' -o "$WORK/time.$name" "$@" > "$WORK/out.$name" 2>&1 || {
    echo "$name failed:" >&2; tail -5 "$WORK/out.$name" >&2; return 1; }
  read -r wall user sys rss < <(tail -1 "$WORK/time.$name")
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$BYTES" "$wall" "$user" "$sys" "$rss" >> "$RESULTS"
  echo "$name: ${wall}s wall, ${user}s user, ${sys}s sys, ${rss} KiB peak RSS" >&2
}

RCLONE_REMOTE=":s3,provider=Other,access_key_id=$AWS_ACCESS_KEY_ID,secret_access_key=$AWS_SECRET_ACCESS_KEY,endpoint='$EP',region=us-east-1"

measure hoist "$HOIST" upload --quiet "$DATA" "s3://$BUCKET/hoist.bin" --endpoint "$EP"
measure s5cmd s5cmd --endpoint-url "$EP" cp "$DATA" "s3://$BUCKET/s5cmd.bin"
measure aws-cli aws s3 cp --only-show-errors --endpoint-url "$EP" "$DATA" "s3://$BUCKET/aws.bin"
if command -v rclone > /dev/null; then
  measure rclone rclone copyto --s3-no-check-bucket "$DATA" "$RCLONE_REMOTE:$BUCKET/rclone.bin"
else
  echo "rclone missing (apt-get install -y rclone): skipped" >&2
fi

# Peak RSS on a 10 GiB file: sparse (reads as zeros), so only the store's disk fills up.
BIG="$WORK/big.bin"
truncate -s "$((BIG_GIB << 30))" "$BIG"
BYTES=$(stat -c %s "$BIG")
measure "hoist-${BIG_GIB}GiB" "$HOIST" upload --quiet "$BIG" "s3://$BUCKET/big.bin" --endpoint "$EP"
rm -f "$BIG"
rm -rf "$WORK/store/$BUCKET/big.bin" 2>/dev/null || true

{
  echo "| client | size | wall s | MiB/s | CPU s/GiB | peak RSS MiB |"
  echo "|---|---|---|---|---|---|"
  awk -F'\t' '{ gib=$2/1073741824; printf "| %s | %.0f GiB | %.2f | %.0f | %.2f | %.0f |\n", $1, gib, $3, $2/1048576/$3, ($4+$5)/gib, $6/1024 }' "$RESULTS"
} | tee "$WORK/results.md"
mkdir -p "$REPO/bench/upload"
cp "$WORK/results.md" "$REPO/bench/upload/results.md"
echo "machine: $(nproc) cores, $(uname -r); store and client share it" >&2
