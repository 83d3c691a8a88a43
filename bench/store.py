#!/usr/bin/env python3
"""The embedded store against single-node garage, same clients, same machine, one run.

Called by `bench/store.sh` (which finds or builds the binaries). Workloads, in interleaved
rounds with the stores' order alternating:
  put-s5cmd   `s5cmd cp` of one SIZE_MIB file (multipart)
  put-hoist   `hoist upload` of the same file (multipart, hoist's defaults)
  get-s5cmd   `s5cmd cp` of that object back to a file (on tmpfs when there is one)
  small-puts  `s5cmd cp 'DIR/*'` of SMALL_FILES files of 16 KiB (one PutObject each)
For each: wall time, throughput, the store's CPU seconds (utime + stime from /proc) per GiB or
per 10,000 objects, the client's own CPU seconds; the store's peak RSS over the round. One
extra, untimed pass per store runs `strace -c -f` on the store during the s5cmd upload, for
the syscalls that dominate.

Writes bench/results/store/{results.csv,summary.json,strace-*.txt}, then plots.
"""

import atexit
import csv
import datetime
import json
import os
import pathlib
import re
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "results" / "store"
HOIST = os.environ["HOIST_BIN"]
GARAGE = os.environ.get("GARAGE_BIN", "")
WORK = pathlib.Path(os.environ["WORK"])
SIZE_MIB = int(os.environ.get("SIZE_MIB", "2048"))
SMALL_FILES = int(os.environ.get("SMALL_FILES", "10000"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
# Untimed rounds first: on a virtual machine the first pass over memory the guest has not
# touched yet costs several times what later ones do, and it falls on whichever store and
# client run first (a download landed at 225 and 245 MiB/s in a first round, 730 and 380 after).
WARMUP = int(os.environ.get("WARMUP", "1"))
STORES = os.environ.get("STORES", "hoist-store garage").split()
WORKLOADS = os.environ.get("WORKLOADS", "put-s5cmd put-hoist get-s5cmd small-puts").split()
TICK = os.sysconf("SC_CLK_TCK")
# Where the download lands: tmpfs when there is one, so that what is timed is the store's GET
# and not the disk's writeback of the client's file (DOWN_DIR overrides).
DOWN_DIR = os.environ.get("DOWN_DIR") or ("/dev/shm" if os.access("/dev/shm", os.W_OK) else str(WORK))
DOWN = pathlib.Path(DOWN_DIR) / f"hoist-bench-down-{os.getpid()}.bin"
TARGET = 2.5


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def peak_rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmHWM"):
            return int(line.split()[1]) / 1024
    return 0.0


class Store:
    """One store process (fresh data folder) with its endpoint, credentials and region."""

    def __init__(self, kind, run):
        self.kind = kind
        # A data folder per run, all removed at the end: deleting a run's 20,000 files just
        # before the next one would slow that one down on some file systems (ext4 without a
        # journal passes over inodes freed in the last 60-300 s on every create).
        data = WORK / f"data-{kind}-{run}"
        shutil.rmtree(data, ignore_errors=True)
        data.mkdir(parents=True)
        log = WORK / f"{kind}.log"
        self.bucket = "bench"
        if kind == "hoist-store":
            self.key, self.secret, self.region = "AKIDHOISTBENCH", "hoistBenchSecretKey0123456789abcdefghij", "us-east-1"
            env = dict(os.environ, AWS_ACCESS_KEY_ID=self.key, AWS_SECRET_ACCESS_KEY=self.secret)
            self.proc = subprocess.Popen([HOIST, "store", "--data", str(data), "--listen", "127.0.0.1:0",
                                          "--bucket", self.bucket], stdout=open(log, "w"),
                                         stderr=subprocess.STDOUT, env=env)
            for _ in range(300):
                m = re.search(r"http://[0-9.:]+", log.read_text())
                if m:
                    self.endpoint = m.group(0)
                    break
                if self.proc.poll() is not None:
                    sys.exit(log.read_text())
                time.sleep(0.1)
        else:
            s3_port, rpc_port = free_port(), free_port()
            conf = data / "garage.toml"
            conf.write_text(f"""metadata_dir = "{data}/meta"
data_dir = "{data}/data"
db_engine = "sqlite"
replication_factor = 1
rpc_bind_addr = "127.0.0.1:{rpc_port}"
rpc_public_addr = "127.0.0.1:{rpc_port}"
rpc_secret = "{secrets.token_hex(32)}"

[s3_api]
s3_region = "garage"
api_bind_addr = "127.0.0.1:{s3_port}"
root_domain = ".s3.garage.localhost"
""")
            self.key, self.secret, self.region = "GK" + secrets.token_hex(12), secrets.token_hex(32), "garage"
            env = dict(os.environ, GARAGE_DEFAULT_ACCESS_KEY=self.key, GARAGE_DEFAULT_SECRET_KEY=self.secret,
                       GARAGE_DEFAULT_BUCKET=self.bucket)
            self.proc = subprocess.Popen([GARAGE, "-c", str(conf), "server", "--single-node", "--default-bucket"],
                                         stdout=open(log, "w"), stderr=subprocess.STDOUT, env=env)
            self.endpoint = f"http://127.0.0.1:{s3_port}"
        self.wait_ready(log)

    def wait_ready(self, log):
        # Ready when a ListObjectsV2 of the bucket answers 200 (garage creates the bucket a moment
        # after it starts listening).
        for _ in range(300):
            if self.proc.poll() is not None:
                sys.exit(f"{self.kind} exited:\n{log.read_text()}")
            r = subprocess.run(["s5cmd", "--endpoint-url", self.endpoint, "ls", f"s3://{self.bucket}/"],
                               env=self.env(), capture_output=True, text=True)
            if r.returncode == 0 or "no object found" in (r.stderr + r.stdout):
                return
            time.sleep(0.2)
        sys.exit(f"{self.kind} not ready:\n{log.read_text()}")

    def env(self):
        return dict(os.environ, AWS_ACCESS_KEY_ID=self.key, AWS_SECRET_ACCESS_KEY=self.secret,
                    AWS_REGION=self.region, AWS_DEFAULT_REGION=self.region)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def drop_cached(path):
    """Asks the kernel to drop every file under `path` from the page cache. On this benchmark's
    machine (a virtual machine) writing into the page cache gets slower as the cache fills the
    guest's memory: the same 2 GiB upload into one store took it 3.3 s of CPU, then 7.5-7.9 s
    two uploads later, nearly all of the difference in the kernel's copy into the cache, and
    4.3 s again after `echo 3 > /proc/sys/vm/drop_caches`. Garage's writes pay the same. So
    every workload starts with the stores' files out of the cache (downloads read from disk)."""
    for root, _, files in os.walk(path):
        for name in files:
            try:
                fd = os.open(os.path.join(root, name), os.O_RDONLY)
            except OSError:
                continue
            try:
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                os.close(fd)


def children_cpu_seconds():
    """User + system CPU of every child this process has waited for (the clients)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(cmd, store, **kw):
    r = subprocess.run(cmd, env=store.env(), capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    return r


def s5(store, *args):
    return ["s5cmd", "--endpoint-url", store.endpoint, *args]


def workload(name, store, payload, small_dir, prefix):
    """Runs one workload; returns (command, cleanup command or None, bytes, objects)."""
    b = store.bucket
    if name == "put-s5cmd":
        return s5(store, "cp", str(payload), f"s3://{b}/{prefix}/s5cmd.bin"), payload.stat().st_size, 1
    if name == "put-hoist":
        return ([HOIST, "upload", "--quiet", str(payload), f"s3://{b}/{prefix}/hoist.bin",
                 "--endpoint", store.endpoint, "--region", store.region], payload.stat().st_size, 1)
    if name == "get-s5cmd":
        return s5(store, "cp", f"s3://{b}/{prefix}/s5cmd.bin", str(DOWN)), payload.stat().st_size, 1
    if name == "small-puts":
        return s5(store, "cp", f"{small_dir}/*", f"s3://{b}/{prefix}/small/"), SMALL_FILES * 16384, SMALL_FILES
    raise ValueError(name)


def strace_top(store, payload, label):
    """The syscalls that take the store's time during one s5cmd upload (untimed pass)."""
    path = OUT / f"strace-{label}.txt"
    tracer = subprocess.Popen(["strace", "-c", "-f", "-p", str(store.proc.pid), "-o", str(path)],
                              stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    run(s5(store, "cp", str(payload), f"s3://{store.bucket}/strace.bin"), store)
    tracer.send_signal(signal.SIGINT)
    tracer.wait(timeout=60)
    run(s5(store, "rm", f"s3://{store.bucket}/strace.bin"), store)
    rows = []
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 5 and re.match(r"^\d+\.\d+$", parts[0]) and parts[-1] != "total":
            rows.append((float(parts[0]), parts[-1], int(parts[3])))
    rows.sort(reverse=True)
    return ", ".join(f"{name} {pct:.0f}% ({calls:,} calls)" for pct, name, calls in rows[:5])


def check_space(payload):
    """Stops before the run when WORK cannot hold what the run keeps there until its end: each
    round's stores keep their data folders (deleting between rounds would slow the next round's
    creates on ext4), each with the file uploaded twice and the small files, counted twice for
    their metadata and file system blocks (a store's folder measured 4.2 GiB for 4 GiB of
    objects and 156 MiB of small files)."""
    per_store_round = 2 * (SIZE_MIB << 20) + SMALL_FILES * 2 * 16384
    need = (ROUNDS + WARMUP) * len(STORES) * per_store_round
    if not payload.exists():
        need += (SIZE_MIB << 20) + SMALL_FILES * 16384
    free = shutil.disk_usage(WORK).free
    if free < need:
        sys.exit(f"bench/store.py: {WORK} has {free / 2**30:.1f} GiB free and a run of "
                 f"{WARMUP}+{ROUNDS} rounds on {len(STORES)} stores keeps up to {need / 2**30:.1f} GiB "
                 "there; free some, or set WORK (bench/store.sh DIR), ROUNDS or SIZE_MIB")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    atexit.register(lambda: DOWN.unlink(missing_ok=True))
    payload = WORK / "payload.bin"
    check_space(payload)
    if not payload.exists() or payload.stat().st_size != SIZE_MIB << 20:
        print(f"writing a {SIZE_MIB} MiB file of random bytes…", file=sys.stderr)
        with open(payload, "wb") as f:
            for _ in range(SIZE_MIB):
                f.write(os.urandom(1 << 20))
    small_dir = WORK / "small"
    if not small_dir.exists() or len(os.listdir(small_dir)) != SMALL_FILES:
        shutil.rmtree(small_dir, ignore_errors=True)
        small_dir.mkdir()
        for i in range(SMALL_FILES):
            (small_dir / f"f{i:05d}.bin").write_bytes(os.urandom(16384))

    rows = []
    load = []
    stores = [s for s in STORES if s != "garage" or GARAGE]
    for rnd in range(-WARMUP, ROUNDS):
        order = stores if rnd % 2 == 0 else list(reversed(stores))
        prefix = f"r{rnd}" if rnd >= 0 else f"w{-rnd}"
        for kind in order:
            store = Store(kind, prefix)
            load.append(os.getloadavg()[0])
            for i, name in enumerate(WORKLOADS):
                cmd, nbytes, objects = workload(name, store, payload, small_dir, prefix)
                # Every workload starts with nothing waiting for the disk: garage does not fsync,
                # so its writes would otherwise still be flushing during the next timed run.
                os.sync()
                for old_data in WORK.glob("data-*"):
                    drop_cached(old_data)
                cpu0 = cpu_seconds(store.proc.pid)
                client0 = children_cpu_seconds()
                t0 = time.perf_counter()
                run(cmd, store)
                secs = time.perf_counter() - t0
                cpu = cpu_seconds(store.proc.pid) - cpu0
                client_cpu = children_cpu_seconds() - client0
                if name == "get-s5cmd":
                    got = DOWN.stat().st_size
                    if got != nbytes:
                        sys.exit(f"{kind}: downloaded {got} bytes, expected {nbytes}")
                    DOWN.unlink()
                rows.append({"round": rnd, "store": kind, "workload": name, "seconds": round(secs, 3),
                             "mib_per_s": round(nbytes / secs / 2**20, 1),
                             "objects_per_s": round(objects / secs, 1),
                             "store_cpu_s": round(cpu, 2),
                             "store_cpu_s_per_gib": round(cpu / (nbytes / 2**30), 2),
                             "store_cpu_s_per_10k_objects": round(cpu / objects * 10000, 2),
                             "store_peak_rss_mib": round(peak_rss_mib(store.proc.pid), 1),
                             "client_cpu_s": round(client_cpu, 2)})
                print(f"round {rnd if rnd >= 0 else 'warm-up'} {kind:11} {name:10} {secs:7.2f} s  "
                      f"{rows[-1]['mib_per_s']:7.1f} MiB/s  {rows[-1]['objects_per_s']:8.1f} obj/s  "
                      f"store CPU {cpu:6.2f} s  client CPU {client_cpu:6.2f} s  "
                      f"RSS {rows[-1]['store_peak_rss_mib']} MiB", file=sys.stderr)
            store.stop()
    rows = [r for r in rows if r["round"] >= 0]

    traces = {}
    if shutil.which("strace") and os.environ.get("STRACE", "1") == "1":
        for kind in stores:
            store = Store(kind, "strace")
            traces[kind] = strace_top(store, payload, kind)
            store.stop()

    for data in WORK.glob("data-*"):
        shutil.rmtree(data, ignore_errors=True)

    with open(OUT / "results.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)

    def pick(kind, name, field):
        return [r[field] for r in rows if r["store"] == kind and r["workload"] == name]

    metric = {n: ("objects_per_s" if n == "small-puts" else "mib_per_s") for n in WORKLOADS}
    unit = {n: ("objects/s" if n == "small-puts" else "MiB/s") for n in WORKLOADS}
    cpu_field = {n: ("store_cpu_s_per_10k_objects" if n == "small-puts" else "store_cpu_s_per_gib")
                 for n in WORKLOADS}
    table, ratio_bars, rate_bars = [], [], []
    for name in WORKLOADS:
        h = pick("hoist-store", name, metric[name])
        g = pick("garage", name, metric[name]) if "garage" in stores else []
        med_h = statistics.median(h)
        row = [name, f"{med_h:,.0f} {unit[name]} ({min(h):,.0f}–{max(h):,.0f})"]
        rate_bars.append({"label": f"hoist-store {name}", "group": "hoist-store", "value": med_h,
                          "low": min(h), "high": max(h)})
        if g:
            med_g = statistics.median(g)
            # Ratio per round (same round, same load), then the median and spread of those.
            per_round = [a / b for a, b in zip(h, g)]
            ratio = statistics.median(per_round)
            row += [f"{med_g:,.0f} ({min(g):,.0f}–{max(g):,.0f})",
                    f"{ratio:.2f} ({min(per_round):.2f}–{max(per_round):.2f})"]
            ratio_bars.append({"label": name, "value": round(ratio, 2), "low": round(min(per_round), 2),
                               "high": round(max(per_round), 2)})
            rate_bars.append({"label": f"garage {name}", "group": "garage", "value": med_g,
                              "low": min(g), "high": max(g)})
        else:
            row += ["", ""]
        row.append(f"{statistics.median(pick('hoist-store', name, cpu_field[name])):.2f}")
        row.append(f"{statistics.median(pick('garage', name, cpu_field[name])):.2f}" if g else "")
        row.append(f"≥ {TARGET}")
        row.append(("yes" if g and ratio >= TARGET else "no") if g else "")
        table.append(row)
    rss = {k: max(pick(k, WORKLOADS[-1], "store_peak_rss_mib")) for k in stores}
    notes = [f"Peak RSS over a round (all workloads): " + ", ".join(f"{k} {v:.0f} MiB" for k, v in rss.items()),
             f"Load average at each store start: median {statistics.median(load):.2f} "
             f"(min {min(load):.2f}, max {max(load):.2f})",
             "Store CPU is per GiB for the 2 GiB workloads and per 10,000 objects for small-puts.",
             "The client's own CPU seconds per run (median over the rounds, with hoist-store / with garage): "
             + "; ".join(f"{n} {statistics.median(pick('hoist-store', n, 'client_cpu_s')):.2f} / "
                         + (f"{statistics.median(pick('garage', n, 'client_cpu_s')):.2f}"
                            if "garage" in stores else "–") for n in WORKLOADS)
             + ". Client and store share the machine's cores: what one spends, the other cannot.",
             "hoist-store fsyncs every part and object before answering; garage's defaults "
             "(data_fsync = false, metadata_fsync = false) do not.",
             "Every workload starts after a sync with the stores' files dropped from the page "
             "cache (posix_fadvise DONTNEED): the download reads from disk."]
    for k, v in traces.items():
        notes.append(f"strace -c -f, {k}, during one s5cmd upload: {v}")
    versions = {"hoist": subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                                        capture_output=True, text=True).stdout.strip(),
                "s5cmd": subprocess.run(["s5cmd", "version"], capture_output=True, text=True).stdout.strip()}
    if GARAGE:
        versions["garage"] = subprocess.run([GARAGE, "--version"], capture_output=True,
                                            text=True).stdout.split("\n")[0].strip()
    summary = {
        "name": "store", "title": "Embedded store against single-node garage",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%MZ"),
        "command": f"ROUNDS={ROUNDS} WARMUP={WARMUP} bench/run.sh store", "versions": versions,
        "table": {"columns": ["workload", "hoist-store median (min–max)", "garage", "ratio per round",
                              "hoist-store CPU", "garage CPU", "target", "met"], "rows": table},
        "notes": notes,
        "plots": [
            {"file": "ratio.svg", "kind": "bar", "title": "hoist-store ÷ garage, same client, per round",
             "unit": "×", "target": TARGET, "bars": ratio_bars},
            {"file": "rates.svg", "kind": "bar", "title": f"throughput ({SIZE_MIB} MiB file; small: 16 KiB files)",
             "unit": "MiB/s or objects/s", "bars": rate_bars},
        ],
    }
    with open(OUT / "summary.json", "w") as f:
        json.dump(summary, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
