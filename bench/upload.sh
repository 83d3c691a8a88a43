#!/usr/bin/env bash
# Upload benchmark: the same 2 GiB file into the same embedded store with `hoist upload`,
# `s5cmd cp`, `aws s3 cp` and `rclone copyto`, in ROUNDS rounds (the order rotates each round
# so no client always goes first); then hoist's peak RSS while sending a 10 GiB file. Prints a
# markdown table of medians (with the range) and writes it to bench/upload/results-LABEL.md.
#
# Usage: bench/upload.sh [WORKDIR]   (default: a temporary directory; needs ~25 GiB free)
# Environment: SIZE_GIB (2), ROUNDS (3), BIG_GIB (10; 0 skips the RSS run), STORE_DATA (the
# store's data directory, default WORKDIR/store: put it on tmpfs, e.g. /dev/shm/x, to take the
# disk out of the measurement), LABEL (suffix of the results file), CLIENTS (default
# "hoist s5cmd aws-cli rclone").
# Needs: /usr/bin/time (apt-get install -y time), s5cmd, awscli, rclone (apt-get install -y rclone).
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
WORK="${1:-$(mktemp -d /tmp/hoist-bench.XXXXXX)}"
SIZE_GIB="${SIZE_GIB:-2}"
ROUNDS="${ROUNDS:-3}"
BIG_GIB="${BIG_GIB:-10}"
CLIENTS="${CLIENTS:-hoist s5cmd aws-cli rclone}"
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

# CPU seconds (user + system) the store has used so far.
store_cpu() { awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$STORE_PID/stat"; }

# measure NAME COMMAND…: wall seconds, user+sys CPU seconds and peak RSS of the client, and
# the CPU seconds the store spent while it ran.
measure() {
  local name=$1; shift
  sync
  local before; before=$(store_cpu)
  /usr/bin/time -f '%e %U %S %M' -o "$WORK/time.$name" "$@" > "$WORK/out.$name" 2>&1 || {
    echo "$name failed:" >&2; tail -5 "$WORK/out.$name" >&2; return 1; }
  local store; store=$(awk -v a="$before" -v b="$(store_cpu)" 'BEGIN { printf "%.2f", b - a }')
  read -r wall user sys rss < <(tail -1 "$WORK/time.$name")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$BYTES" "$wall" "$user" "$sys" "$rss" "$store" >> "$RESULTS"
  echo "$name: ${wall}s wall, ${user}s user, ${sys}s sys, ${rss} KiB peak RSS; store ${store} CPU s" >&2
  # Keep the store's disk (or tmpfs) from filling up: drop what was just uploaded.
  s5cmd --endpoint-url "$EP" rm "s3://$BUCKET/*" > /dev/null 2>&1 || true
}

RCLONE_REMOTE=":s3,provider=Other,access_key_id=$AWS_ACCESS_KEY_ID,secret_access_key=$AWS_SECRET_ACCESS_KEY,endpoint='$EP',region=us-east-1"

run_client() {
  case "$1" in
    hoist) measure hoist "$HOIST" upload --quiet "$DATA" "s3://$BUCKET/hoist.bin" --endpoint "$EP" ;;
    s5cmd) measure s5cmd s5cmd --endpoint-url "$EP" cp "$DATA" "s3://$BUCKET/s5cmd.bin" ;;
    aws-cli) measure aws-cli aws s3 cp --only-show-errors --endpoint-url "$EP" "$DATA" "s3://$BUCKET/aws.bin" ;;
    rclone)
      if command -v rclone > /dev/null; then
        # rclone 1.60 refuses AWS_CA_BUNDLE on a plain-HTTP endpoint.
        measure rclone env -u AWS_CA_BUNDLE rclone copyto --s3-no-check-bucket "$DATA" "$RCLONE_REMOTE:$BUCKET/rclone.bin"
      else
        echo "rclone missing (apt-get install -y rclone): skipped" >&2
      fi ;;
    *) echo "unknown client $1" >&2; return 1 ;;
  esac
}

read -r -a ORDER <<< "$CLIENTS"
for round in $(seq "$ROUNDS"); do
  echo "round $round: ${ORDER[*]}" >&2
  for client in "${ORDER[@]}"; do run_client "$client"; done
  ORDER=("${ORDER[@]:1}" "${ORDER[0]}")
done

# Peak RSS on a 10 GiB file: sparse (reads as zeros), so only the store's disk fills up.
if [ "$BIG_GIB" -gt 0 ]; then
BIG="$WORK/big.bin"
truncate -s "$((BIG_GIB << 30))" "$BIG"
BYTES=$(stat -c %s "$BIG")
measure "hoist-${BIG_GIB}GiB" "$HOIST" upload --quiet "$BIG" "s3://$BUCKET/big.bin" --endpoint "$EP"
rm -f "$BIG"
fi

{
  echo "| client | size | runs | MiB/s median (min–max) | client CPU s/GiB | store CPU s/GiB | peak RSS MiB |"
  echo "|---|---|---|---|---|---|---|"
  # Median of each column per client, in the order clients first appear.
  awk -F'\t' '
    function median(list,   n, v, i, j, t) {
      n = split(list, v, " ")
      for (i = 2; i <= n; i++) for (j = i; j > 1 && v[j-1] + 0 > v[j] + 0; j--) { t = v[j]; v[j] = v[j-1]; v[j-1] = t }
      return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    }
    {
      if (!($1 in runs)) order[++clients] = $1
      runs[$1]++; gib = $2 / 1073741824; size[$1] = gib
      rate = $2 / 1048576 / $3
      rates[$1] = rates[$1] " " rate; cpu[$1] = cpu[$1] " " ($4 + $5) / gib
      scpu[$1] = scpu[$1] " " $7 / gib
      if (!($1 in lo) || rate < lo[$1]) lo[$1] = rate
      if (!($1 in hi) || rate > hi[$1]) hi[$1] = rate
      if ($6 > rss[$1]) rss[$1] = $6
    }
    END {
      for (i = 1; i <= clients; i++) { c = order[i]
        printf "| %s | %.0f GiB | %d | %.0f (%.0f–%.0f) | %.2f | %.2f | %.0f |\n", c, size[c], runs[c], median(rates[c]), lo[c], hi[c], median(cpu[c]), median(scpu[c]), rss[c] / 1024
      }
    }' "$RESULTS"
} | tee "$WORK/results.md"
mkdir -p "$REPO/bench/upload"
cp "$WORK/results.md" "$REPO/bench/upload/results-$LABEL.md"
echo "machine: $(nproc) cores, $(uname -r); store and client share it" >&2
