#!/usr/bin/env python3
"""Memory per slow download, the embedded store against single-node garage, one run.

Called by `bench/downloads.sh` (which finds or builds the binaries). For each store, a fresh
process: one object of SIZE_MIB is PUT (boto3), then clients are opened in STEPS (clients open
at once). Each client is one TCP connection with a 64 KiB receive buffer that sends a presigned
GET of the object and reads 16 KiB every 200 ms, so the server's socket stays full and its
answer waits on the client, as for a browser on a slow link. At each step the clients keep
reading while the server settles for SETTLE seconds, then its VmRSS, VmHWM and RssAnon are read
from /proc. After the last step every client closes and the server is sampled again.

Writes bench/results/downloads/{results.csv,summary.json}, then plots.
"""

import asyncio
import datetime
import json
import os
import pathlib
import socket
import subprocess
import sys
import time
import urllib.parse

import boto3
from botocore.config import Config

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from memory.drive import status_kib  # noqa: E402
from store import GARAGE, REPO, Store  # noqa: E402

OUT = REPO / "bench" / "results" / "downloads"
STORES = os.environ.get("STORES", "hoist-store garage").split()
STEPS = [int(s) for s in os.environ.get("STEPS", "0,64,128,256,448").split(",")]
SIZE_MIB = int(os.environ.get("SIZE_MIB", "256"))
SETTLE = float(os.environ.get("SETTLE", "5"))
WINDOW, READ, EVERY = 64 * 1024, 16 * 1024, 0.2


class Client:
    """One slow reader of the object."""

    def __init__(self, url):
        self.url, self.status, self.bytes, self.closed, self.task = url, None, 0, False, None

    async def run(self, stop):
        parts = urllib.parse.urlsplit(self.url)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, WINDOW)
        sock.setblocking(False)
        loop = asyncio.get_running_loop()
        await loop.sock_connect(sock, (parts.hostname, parts.port))
        path = parts.path + ("?" + parts.query if parts.query else "")
        head = f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n\r\n"
        await loop.sock_sendall(sock, head.encode())
        reader, writer = await asyncio.open_connection(sock=sock)
        first = await reader.readline()
        self.status = int(first.split()[1]) if first else 0
        try:
            while not stop.is_set():
                chunk = await reader.read(READ)
                if not chunk:
                    self.closed = True
                    break
                self.bytes += len(chunk)
                try:
                    await asyncio.wait_for(stop.wait(), EVERY)
                except asyncio.TimeoutError:
                    pass
        finally:
            writer.close()


async def measure(store):
    """Rows (store, phase, clients, rss_kib, hwm_kib, anon_kib, errors, load1) for one store."""
    s3 = boto3.client("s3", endpoint_url=store.endpoint, region_name=store.region,
                      aws_access_key_id=store.key, aws_secret_access_key=store.secret,
                      config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    key = "slow-downloads.bin"
    s3.put_object(Bucket=store.bucket, Key=key, Body=os.urandom(1024 * 1024) * SIZE_MIB)
    url = s3.generate_presigned_url("get_object", Params={"Bucket": store.bucket, "Key": key},
                                    ExpiresIn=3600)
    stop, clients, rows = asyncio.Event(), [], []

    def sample(phase, n):
        kib = status_kib(store.proc.pid)
        errors = sum(1 for c in clients if c.status not in (None, 200) or c.closed)
        load1 = open("/proc/loadavg").read().split()[0]
        rows.append([store.kind, phase, n, kib["VmRSS"], kib["VmHWM"], kib["RssAnon"], errors, load1])
        print(f"{store.kind}: {phase} {n:>4} clients: RSS {kib['VmRSS'] / 1024:.1f} MiB "
              f"(anon {kib['RssAnon'] / 1024:.1f}), errors {errors}", file=sys.stderr)

    for step in STEPS:
        while len(clients) < step:
            c = Client(url)
            c.task = asyncio.create_task(c.run(stop))
            clients.append(c)
            await asyncio.sleep(0)
        await asyncio.sleep(SETTLE)
        sample("open", step)
    stop.set()
    await asyncio.gather(*(c.task for c in clients), return_exceptions=True)
    await asyncio.sleep(SETTLE)
    sample("closed", 0)
    return rows


def mib(kib):
    return round(kib / 1024, 1)


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    stores = [s for s in STORES if s != "garage" or GARAGE]
    rows = []
    for kind in stores:
        store = Store(kind, "downloads")
        try:
            rows += asyncio.run(measure(store))
        finally:
            store.stop()
    with open(OUT / "results.csv", "w") as f:
        f.write("store,phase,clients,rss_kib,hwm_kib,anon_kib,errors,load1\n")
        for r in rows:
            f.write(",".join(str(x) for x in r) + "\n")

    table, series, notes, per = [], [], [], {}
    for kind in stores:
        opened = [r for r in rows if r[0] == kind and r[1] == "open"]
        closed = [r for r in rows if r[0] == kind and r[1] == "closed"]
        base, top = opened[0], opened[-1]
        n = top[2]
        per[kind] = (top[3] - base[3]) / 1024 / n if n else 0.0
        steps = "; ".join(f"{a[2]}→{b[2]}: {(b[3] - a[3]) / 1024 / (b[2] - a[2]):.2f}"
                          for a, b in zip(opened, opened[1:]) if b[2] > a[2])
        table.append([kind, f"{mib(base[3])} MiB", f"{mib(top[3])} MiB", f"{per[kind]:.2f}",
                      f"{mib(closed[-1][3])} MiB" if closed else "", max(r[6] for r in opened)])
        series.append({"label": kind, "points": [[r[2], mib(r[3])] for r in opened]})
        notes.append(f"{kind}: MiB of RSS per slow download, step by step: {steps}.")
    if "hoist-store" in per and "garage" in per and per["garage"]:
        notes.insert(0, f"hoist-store holds {per['hoist-store'] / per['garage']:.2f}× garage's memory per "
                        f"slow download ({per['hoist-store']:.2f} against {per['garage']:.2f} MiB).")
    notes.append(
        "Where hoist-store's goes: what the HTTP layer (hyper) has queued to send, up to about "
        "400 KiB before it asks the body for more, plus the 512 KiB chunk it took; a chunk read "
        "ahead (512 KiB) only while the store-wide read-ahead budget (32 MiB, "
        "`hoist_store_read_ahead_bytes`) has room. A client that reads nothing for the stall "
        "timeout (60 s) has its connection closed. Connections are capped at 512.")
    loads = sorted({r[7] for r in rows}, key=float)
    notes.append(f"Load average (1 min) while sampling: {loads[0]}–{loads[-1]}.")
    versions = {"hoist": subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                                        capture_output=True, text=True).stdout.strip(),
                "boto3": boto3.__version__}
    if GARAGE and "garage" in stores:
        versions["garage"] = subprocess.run([GARAGE, "--version"], capture_output=True,
                                            text=True).stdout.split("\n")[0].strip()
    summary = {
        "name": "downloads", "title": "Memory per slow download, against single-node garage",
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%MZ"),
        "command": "bench/run.sh downloads", "versions": versions,
        "table": {"columns": ["store", "RSS, no client", f"RSS, {STEPS[-1]} clients",
                              "MiB per slow download", "RSS after they closed", "errors"],
                  "rows": table},
        "notes": notes,
        "plots": [{"file": "rss.svg", "kind": "line",
                   "title": f"RSS against slow downloads of a {SIZE_MIB} MiB object",
                   "xlabel": "clients reading at 80 KiB/s", "unit": "MiB", "series": series}],
    }
    with open(OUT / "summary.json", "w") as f:
        json.dump(summary, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
