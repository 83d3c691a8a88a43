#!/usr/bin/env bash
# Upload benchmark: the same 2 GiB file into the same embedded store with `hoist upload`,
# `s5cmd cp`, `aws s3 cp` and `rclone copyto`, one after the other; then hoist's peak RSS
# while sending a 10 GiB file. Prints a markdown table and writes it to bench/upload/results.md.
#
# Usage: bench/upload.sh [WORKDIR]   (default: a temporary directory; needs ~25 GiB free)
# Environment: SIZE_GIB (2), BIG_GIB (10; 0 skips the RSS run), STORE_DATA (the store's data
# directory, default WORKDIR/store: put it on tmpfs, e.g. /dev/shm/x, to take the disk out of
# the measurement), LABEL (suffix of the results file).
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

STORE_DATA="${STORE_DATA:-$WORK/store}"
LABEL="${LABEL:-disk}"
"$HOIST" store --listen 127.0.0.1:0 --data "$STORE_DATA" --bucket "$BUCKET" \
  --access-key "$AWS_ACCESS_KEY_ID" --secret-key "$AWS_SECRET_ACCESS_KEY" > "$WORK/store.log" 2>&1 &
STORE_PID=$!
trap 'kill $STORE_PID 2>/dev/null || true; rm -f "$WORK/data.bin" "$WORK/big.bin"; rm -rf "$STORE_DATA"' EXIT
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
  # Keep the store's disk (or tmpfs) from filling up: drop what was just uploaded.
  s5cmd --endpoint-url "$EP" rm "s3://$BUCKET/*" > /dev/null 2>&1 || true
}

RCLONE_REMOTE=":s3,provider=Other,access_key_id=$AWS_ACCESS_KEY_ID,secret_access_key=$AWS_SECRET_ACCESS_KEY,endpoint='$EP',region=us-east-1"

measure hoist "$HOIST" upload --quiet "$DATA" "s3://$BUCKET/hoist.bin" --endpoint "$EP"
measure s5cmd s5cmd --endpoint-url "$EP" cp "$DATA" "s3://$BUCKET/s5cmd.bin"
measure aws-cli aws s3 cp --only-show-errors --endpoint-url "$EP" "$DATA" "s3://$BUCKET/aws.bin"
if command -v rclone > /dev/null; then
  # rclone 1.60 refuses AWS_CA_BUNDLE on a plain-HTTP endpoint.
  measure rclone env -u AWS_CA_BUNDLE rclone copyto --s3-no-check-bucket "$DATA" "$RCLONE_REMOTE:$BUCKET/rclone.bin"
else
  echo "rclone missing (apt-get install -y rclone): skipped" >&2
fi

# Peak RSS on a 10 GiB file: sparse (reads as zeros), so only the store's disk fills up.
if [ "$BIG_GIB" -gt 0 ]; then
BIG="$WORK/big.bin"
truncate -s "$((BIG_GIB << 30))" "$BIG"
BYTES=$(stat -c %s "$BIG")
measure "hoist-${BIG_GIB}GiB" "$HOIST" upload --quiet "$BIG" "s3://$BUCKET/big.bin" --endpoint "$EP"
rm -f "$BIG"
fi

{
  echo "| client | size | wall s | MiB/s | CPU s/GiB | peak RSS MiB |"
  echo "|---|---|---|---|---|---|"
  awk -F'\t' '{ gib=$2/1073741824; printf "| %s | %.0f GiB | %.2f | %.0f | %.2f | %.0f |\n", $1, gib, $3, $2/1048576/$3, ($4+$5)/gib, $6/1024 }' "$RESULTS"
} | tee "$WORK/results.md"
mkdir -p "$REPO/bench/upload"
cp "$WORK/results.md" "$REPO/bench/upload/results-$LABEL.md"
echo "machine: $(nproc) cores, $(uname -r); store and client share it" >&2
