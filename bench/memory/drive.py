#!/usr/bin/env python3
"""Opens multipart uploads in steps and samples servers' memory between the steps.

    drive.py store URL BUCKET --pid PID [--pid NAME=PID ...] --csv OUT.csv [options]
    drive.py coord URL --api-key KEY --pid PID [--pid NAME=PID ...] --csv OUT.csv [options]

`store`: CreateMultipartUpload (SigV4-signed by hand, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY,
AWS_REGION) against an S3 endpoint, then AbortMultipartUpload for each. `coord`: `POST
/v1/uploads` (a 1 GiB multipart upload with a CRC-64/NVME checksum, as `hoist upload --server`
asks) against a hoist coordinator, then `DELETE /v1/uploads/{id}` for each.

Requests go out from `--threads` threads, each with one kept-alive HTTP/1.1 connection
(http.client). At each checkpoint (`--steps`, open uploads) the requests stop, the servers
settle for `--settle` seconds, and each `--pid` (`NAME=PID`; the first without a name is
called after the target) has its VmRSS, VmHWM and RssAnon read from /proc/PID/status; with
`--du DIR` the on-disk size of DIR (du, blocks and apparent bytes) is measured too. Then
every upload is aborted and the servers sampled again, right after `--settle` and after
`--after-wait` seconds more.

Rows of `--csv`: phase,process,open_uploads,rss_kib,hwm_kib,anon_kib,du_kib,du_apparent_kib,
seconds,errors,load1. Progress goes to standard error.
"""

import argparse
import datetime
import hashlib
import hmac
import http.client
import json
import os
import queue
import subprocess
import sys
import threading
import time
import urllib.parse
import xml.etree.ElementTree as ET


class SigV4:
    """Just enough SigV4 (header auth) for CreateMultipartUpload, Abort and HeadBucket."""

    EMPTY = hashlib.sha256(b"").hexdigest()

    def __init__(self, access, secret, region):
        self.access, self.secret, self.region = access, secret, region
        self.day, self.key = None, None

    def _key(self, day):
        if day != self.day:
            k = ("AWS4" + self.secret).encode()
            for part in (day, self.region, "s3", "aws4_request"):
                k = hmac.new(k, part.encode(), hashlib.sha256).digest()
            self.day, self.key = day, k
        return self.key

    def headers(self, method, host, path, query):
        now = datetime.datetime.now(datetime.timezone.utc)
        amz = now.strftime("%Y%m%dT%H%M%SZ")
        day = amz[:8]
        canonical_query = "&".join(
            f"{urllib.parse.quote(k, safe='-_.~')}={urllib.parse.quote(v, safe='-_.~')}"
            for k, v in sorted(query)
        )
        signed = "host;x-amz-content-sha256;x-amz-date"
        canonical = "\n".join([
            method,
            urllib.parse.quote(path, safe="/-_.~"),
            canonical_query,
            f"host:{host}\nx-amz-content-sha256:{self.EMPTY}\nx-amz-date:{amz}\n",
            signed,
            self.EMPTY,
        ])
        scope = f"{day}/{self.region}/s3/aws4_request"
        to_sign = "\n".join([
            "AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(canonical.encode()).hexdigest()
        ])
        sig = hmac.new(self._key(day), to_sign.encode(), hashlib.sha256).hexdigest()
        return {
            "Host": host,
            "x-amz-date": amz,
            "x-amz-content-sha256": self.EMPTY,
            "Authorization": f"AWS4-HMAC-SHA256 Credential={self.access}/{scope}, "
                             f"SignedHeaders={signed}, Signature={sig}",
            "Content-Length": "0",
        }


class Target:
    """What one request to open, close or warm up looks like for a kind of server."""

    def __init__(self, args):
        u = urllib.parse.urlsplit(args.url)
        self.host, self.port = u.hostname, u.port or 80
        self.hostport = u.netloc
        self.args = args
        if args.kind == "store":
            self.sig = SigV4(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"],
                             os.environ.get("AWS_REGION", "us-east-1"))

    def warm(self):
        """A request that opens nothing: HeadBucket, or the coordinator's /healthz."""
        if self.args.kind == "store":
            path = f"/{self.args.bucket}"
            return "HEAD", path, None, self.sig.headers("HEAD", self.hostport, path, [])
        return "GET", "/healthz", None, {}

    def open(self, i):
        if self.args.kind == "store":
            path = f"/{self.args.bucket}/mem/{i:07d}.bin"
            h = self.sig.headers("POST", self.hostport, path, [("uploads", "")])
            return "POST", path + "?uploads", None, h
        body = json.dumps({
            "size": 1 << 30,
            "filename": f"f{i:07d}.bin",
            "content_type": "application/octet-stream",
            "checksum": {"algorithm": "crc64nvme"},
        }).encode()
        h = {"Authorization": f"Bearer {self.args.api_key}", "Content-Type": "application/json",
             "Content-Length": str(len(body))}
        return "POST", "/v1/uploads", body, h

    def opened(self, i, body):
        """What names the upload just opened, for closing it."""
        if self.args.kind == "store":
            root = ET.fromstring(body)
            uid = next(e.text for e in root.iter() if e.tag.endswith("UploadId"))
            return (f"/{self.args.bucket}/mem/{i:07d}.bin", uid)
        return json.loads(body)["id"]

    def close(self, handle):
        if self.args.kind == "store":
            path, uid = handle
            h = self.sig.headers("DELETE", self.hostport, path, [("uploadId", uid)])
            return "DELETE", f"{path}?uploadId={urllib.parse.quote(uid)}", None, h
        h = {"Authorization": f"Bearer {self.args.api_key}", "Content-Length": "0"}
        return "DELETE", f"/v1/uploads/{urllib.parse.quote(handle, safe='')}", None, h


class Pool:
    """Threads with one kept-alive connection each, draining a queue of jobs."""

    def __init__(self, target, threads):
        self.target = target
        self.jobs = queue.Queue()
        self.lock = threading.Lock()
        self.errors = 0
        self.first_errors = []
        self.handles = {}
        for _ in range(threads):
            threading.Thread(target=self._run, daemon=True).start()

    def _connect(self):
        return http.client.HTTPConnection(self.target.host, self.target.port, timeout=120)

    def _send(self, conn, req):
        method, path, body, headers = req
        for attempt in range(3):
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                data = resp.read()
                if resp.getheader("connection", "").lower() == "close":
                    conn.close()
                return conn, resp.status, data
            except (http.client.HTTPException, OSError):
                # A kept-alive connection the server closed (idle timeout): a fresh one.
                conn.close()
                conn = self._connect()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _run(self):
        conn = self._connect()
        while True:
            kind, arg = self.jobs.get()
            try:
                if kind == "warm":
                    req = self.target.warm()
                elif kind == "open":
                    req = self.target.open(arg)
                else:
                    req = self.target.close(self.handles[arg])
                # The request is built (and signed) per try; a retry is rare.
                conn, status, data = self._send(conn, req)
                ok = 200 <= status < 300
                if ok and kind == "open":
                    handle = self.target.opened(arg, data)
                    with self.lock:
                        self.handles[arg] = handle
                elif ok and kind == "close":
                    with self.lock:
                        del self.handles[arg]
                elif not ok:
                    self._error(f"{kind} {arg}: {status} {data[:300]!r}")
            except Exception as e:  # noqa: BLE001 - counted and shown, the run goes on
                self._error(f"{kind} {arg}: {type(e).__name__}: {e}")
            finally:
                self.jobs.task_done()

    def _error(self, what):
        with self.lock:
            self.errors += 1
            if len(self.first_errors) < 5:
                self.first_errors.append(what)
                print(f"error: {what}", file=sys.stderr)

    def run(self, kind, items):
        for i in items:
            self.jobs.put((kind, i))
        self.jobs.join()


def status_kib(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM", "RssAnon"):
                out[k] = int(v.split()[0])
    return out


def du_kib(path):
    def one(extra):
        r = subprocess.run(["du", "-sk", *extra, path], capture_output=True, text=True)
        return int(r.stdout.split()[0]) if r.returncode == 0 and r.stdout else ""
    return one([]), one(["--apparent-size"])


def count_uploads(endpoint, bucket):
    """The store's open uploads in BUCKET, counted with boto3's ListMultipartUploads pages."""
    import boto3
    s3 = boto3.client("s3", endpoint_url=endpoint)
    n = 0
    for page in s3.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
        n += len(page.get("Uploads", []))
    return n


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("kind", choices=["store", "coord"])
    p.add_argument("url")
    p.add_argument("bucket", nargs="?", default="bench")
    p.add_argument("--api-key", default="")
    p.add_argument("--pid", action="append", required=True, help="PID or NAME=PID")
    p.add_argument("--csv", required=True)
    p.add_argument("--steps", default="1000,10000,25000,50000,75000,100000")
    p.add_argument("--threads", type=int, default=32)
    p.add_argument("--settle", type=float, default=3.0)
    p.add_argument("--after-wait", type=float, default=30.0)
    p.add_argument("--du", default="")
    p.add_argument("--cycles", type=int, default=1,
                   help="open and abort the last step's uploads this many times in all (the later "
                        "cycles sampled only when full and when emptied): whether freed memory is reused")
    p.add_argument("--verify", default="", help="S3 endpoint whose open uploads boto3 counts after the last step")
    args = p.parse_args()

    pids = []
    for spec in args.pid:
        name, _, pid = spec.rpartition("=")
        pids.append((name or {"store": "store", "coord": "coordinator"}[args.kind], int(pid)))
    steps = [int(s) for s in args.steps.split(",") if s]

    target = Target(args)
    pool = Pool(target, args.threads)
    t0 = time.monotonic()
    out = open(args.csv, "w")

    def sample(phase, open_uploads):
        time.sleep(args.settle)
        du, du_app = du_kib(args.du) if args.du else ("", "")
        load1 = open("/proc/loadavg").read().split()[0]
        for name, pid in pids:
            s = status_kib(pid)
            row = [phase, name, open_uploads, s["VmRSS"], s["VmHWM"], s.get("RssAnon", ""),
                   du if name == pids[0][0] else "", du_app if name == pids[0][0] else "",
                   f"{time.monotonic() - t0:.1f}", pool.errors, load1]
            out.write(",".join(str(x) for x in row) + "\n")
            out.flush()
            print(f"{phase:>6} {name:>12} open={open_uploads:>7} rss={s['VmRSS'] / 1024:8.1f} MiB "
                  f"hwm={s['VmHWM'] / 1024:8.1f} MiB du={du} KiB t={time.monotonic() - t0:.0f}s "
                  f"errors={pool.errors} load={load1}", file=sys.stderr)

    # Every connection opened and used once, so the baseline has them.
    pool.run("warm", range(args.threads * 4))
    sample("open", 0)
    done = 0
    for step in steps:
        started = time.monotonic()
        pool.run("open", range(done, step))
        took = time.monotonic() - started
        print(f"opened {step - done} in {took:.1f}s ({(step - done) / took:.0f}/s)", file=sys.stderr)
        done = step
        sample("open", len(pool.handles))

    if args.verify:
        counted = count_uploads(args.verify, args.bucket)
        print(f"boto3 ListMultipartUploads: {counted} open uploads in the store", file=sys.stderr)
        if counted < done:
            print(f"error: the store lists {counted} open uploads, {done} were opened", file=sys.stderr)
            pool.errors += 1

    started = time.monotonic()
    pool.run("close", sorted(pool.handles))
    took = time.monotonic() - started
    print(f"aborted {done} in {took:.1f}s ({done / max(took, 1e-9):.0f}/s)", file=sys.stderr)
    sample("abort", len(pool.handles))
    time.sleep(args.after_wait)
    sample("after", len(pool.handles))
    for cycle in range(2, args.cycles + 1):
        base = cycle * 10_000_000
        started = time.monotonic()
        pool.run("open", range(base, base + done))
        print(f"cycle {cycle}: opened {done} in {time.monotonic() - started:.1f}s", file=sys.stderr)
        sample(f"open{cycle}", len(pool.handles))
        pool.run("close", sorted(pool.handles))
        sample(f"abort{cycle}", len(pool.handles))
    if pool.errors:
        print(f"{pool.errors} requests failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
