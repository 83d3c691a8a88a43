#!/usr/bin/env python3
"""Reads results.csv and breakdown.csv (and strace-*.txt) in OUT, written by
bench/coordinator.sh, and writes OUT/summary.json for bench/plot.py: medians over the numbered
rounds, their spread (min–max), the ratios to Companion and whether the targets are met.

    python3 bench/coordinator/summarize.py OUT --hoist REV --companion 6.2.2 --node v20 --wrk 4.1.0
"""

import argparse
import csv
import json
import os
import re
import statistics
from datetime import datetime, timezone

SIGN = "GET /s3/multipart/{uploadId}/{partNumber}"
SIGN_V1 = "POST /v1/uploads/{id}/parts"
CREATE = "POST /s3/multipart"
CREATE_V1 = "POST /v1/uploads"
STORE = "POST /{bucket}/{key}?uploads"

# (label, hoist route, companion route, target ratio, p99 bound in ms or None)
COMPARISONS = [
    ("sign one part URL (Companion route)", SIGN, SIGN, 100, 10.0),
    ("sign one part URL (POST /v1/uploads/{id}/parts)", SIGN_V1, SIGN, 100, 10.0),
    ("create a multipart upload (POST /s3/multipart)", CREATE, CREATE, 25, None),
    ("create a multipart upload (POST /v1/uploads, 2 GiB)", CREATE_V1, CREATE, 25, None),
]


def read(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def num(v):
    return float(v) if v not in ("", None) else None


def fmt(v):
    if v is None:
        return "–"
    if v >= 1000:
        return f"{v:,.0f}"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def spread(vals):
    m = statistics.median(vals)
    return m, min(vals), max(vals)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--hoist", required=True)
    ap.add_argument("--companion", required=True)
    ap.add_argument("--node", required=True)
    ap.add_argument("--wrk", required=True)
    ap.add_argument("--load-start", default="")
    ap.add_argument("--load-end", default="")
    ap.add_argument("--setup", default="")
    ap.add_argument("--connections", default="64")
    a = ap.parse_args()

    rows = read(os.path.join(a.out, "results.csv"))
    numbered = [r for r in rows if r["round"].isdigit()]
    rounds = sorted({int(r["round"]) for r in numbered})

    def series(server, route, field, rs=numbered):
        return [float(r[field]) for r in rs if r["server"] == server and r["route"] == route]

    def per_round(server, route, field):
        return {
            int(r["round"]): float(r[field])
            for r in numbered
            if r["server"] == server and r["route"] == route
        }

    table = []
    ratio_bars = []
    notes = []
    for label, hroute, croute, target, p99_bound in COMPARISONS:
        h = series("hoist", hroute, "req_per_s")
        c = series("companion", croute, "req_per_s")
        if not h or not c or not statistics.median(c):
            continue
        hm, hl, hh = spread(h)
        cm, cl, ch = spread(c)
        hr, cr = per_round("hoist", hroute, "req_per_s"), per_round("companion", croute, "req_per_s")
        ratios = [hr[k] / cr[k] for k in rounds if k in hr and k in cr and cr[k] > 0]
        ratio = hm / cm if cm else None
        hp99 = statistics.median(series("hoist", hroute, "p99_ms"))
        cp99 = statistics.median(series("companion", croute, "p99_ms"))
        met = ratio is not None and ratio >= target
        tgt = f"≥ {target}×"
        if p99_bound is not None:
            tgt += f", p99 < {p99_bound:g} ms"
            met = met and hp99 < p99_bound
        table.append([
            label,
            f"{fmt(hm)} ({fmt(hl)}–{fmt(hh)})",
            f"{fmt(cm)} ({fmt(cl)}–{fmt(ch)})",
            f"{fmt(ratio)}× ({fmt(min(ratios))}–{fmt(max(ratios))})" if ratios else fmt(ratio),
            fmt(hp99),
            fmt(cp99),
            tgt,
            "yes" if met else "no",
        ])
        short = label.split(" (")[0].replace("one part URL", "").replace("a multipart upload", "")
        tag = "v1" if "/v1/" in hroute else "uppy"
        ratio_bars.append({
            "label": f"{short.strip()} ({hroute.split()[1]})",
            "value": round(ratio, 1),
            "low": round(min(ratios), 1) if ratios else round(ratio, 1),
            "high": round(max(ratios), 1) if ratios else round(ratio, 1),
            "group": "create" if "create" in label else "sign",
        })

    s = series("store", STORE, "req_per_s")
    if s:
        sm, sl, sh = spread(s)
        table.append([
            "CreateMultipartUpload on the store alone (presigned, no coordinator)",
            f"{fmt(sm)} ({fmt(sl)}–{fmt(sh)})",
            "–",
            "–",
            fmt(statistics.median(series("store", STORE, "p99_ms"))),
            "–",
            "ceiling of both creates",
            "",
        ])

    bars = []
    for server, route, label in [
        ("hoist", SIGN, "hoist sign (GET /s3/multipart/…/{n})"),
        ("hoist", SIGN_V1, "hoist sign (POST /v1/uploads/…/parts)"),
        ("companion", SIGN, "companion sign (GET /s3/multipart/…/{n})"),
        ("hoist", CREATE, "hoist create (POST /s3/multipart)"),
        ("hoist", CREATE_V1, "hoist create (POST /v1/uploads)"),
        ("companion", CREATE, "companion create (POST /s3/multipart)"),
        ("store", STORE, "store CreateMultipartUpload alone"),
    ]:
        v = series(server, route, "req_per_s")
        if v:
            m, lo, hi = spread(v)
            bars.append({"label": label, "value": round(m, 1), "low": round(lo, 1),
                         "high": round(hi, 1), "group": server})

    errors = {}
    for r in numbered:
        if int(r["errors"]):
            errors[(r["server"], r["route"])] = errors.get((r["server"], r["route"]), 0) + int(r["errors"])
    if errors:
        notes.append("Errors (non-2xx answers and socket errors, summed over the rounds): " + "; ".join(
            f"{s} {r}: {n}" for (s, r), n in errors.items()) + ".")
    else:
        notes.append("No errors: every answer of every round was 2xx, with no socket error.")
    notes.append("Companion runs as its README embeds it: an express app mounting companion.app(options) "
                 "with only s3 set (endpoint = the store, path style, bucket, key, secret, us-east-1), "
                 "NODE_ENV=production, no session middleware (the S3 routes do not use it). Its SDK "
                 "signs the empty body's CRC32 into every UploadPart URL by default, so parts sent on "
                 "them are refused (BadDigest); the run sets awsClientOptions.requestChecksumCalculation "
                 "= WHEN_REQUIRED so its URLs work (COMPANION_SDK_CHECKSUMS=default keeps the default). "
                 "Companion builds two S3 clients for every request (getCompanionMiddleware), so each "
                 "create also opens a new connection to the store.")
    if a.setup:
        notes.append(f"Setup: {a.setup}. Figures are medians over the rounds, (min–max) in brackets; "
                     "ratios are of the medians, their brackets the per-round ratios.")
    if a.load_start or a.load_end:
        notes.append(f"Load average (1, 5, 15 min) at the start: {a.load_start}; at the end: {a.load_end}; "
                     "the machine was shared with other work.")

    # Where a create's time goes: CPU per request of each process, the store's own time.
    bpath = os.path.join(a.out, "breakdown.csv")
    if os.path.exists(bpath):
        b = read(bpath)
        for rnd_kind, title in (("numbered", "store on disk"), ("tmpfs", "store on tmpfs")):
            sel = [r for r in b if (r["round"].isdigit() if rnd_kind == "numbered" else r["round"] == "tmpfs")]
            parts = []
            for server, route in ((("hoist", CREATE), ("hoist", CREATE_V1), ("companion", CREATE), ("store", STORE))):
                rs = [r for r in sel if r["server"] == server and r["route"] == route]
                if not rs:
                    continue
                def med(field):
                    vals = [num(r[field]) for r in rs if num(r[field]) is not None]
                    return statistics.median(vals) if vals else None
                rate = [float(x["req_per_s"]) for x in rows
                        if x["server"] == server and x["route"] == route
                        and (x["round"].isdigit() if rnd_kind == "numbered" else x["round"] == "tmpfs")]
                text = f"{server} {route}: {fmt(statistics.median(rate))} req/s"
                if med("server_cpu_us_per_req") is not None:
                    text += f", its own CPU {fmt(med('server_cpu_us_per_req'))} µs/request"
                text += f", the store's CPU {fmt(med('store_cpu_us_per_req'))} µs/request"
                if med("store_create_mean_ms") is not None:
                    text += f", the store's time per CreateMultipartUpload {fmt(med('store_create_mean_ms'))} ms"
                parts.append(text)
            if parts:
                notes.append(f"Create breakdown, {title} (medians): " + "; ".join(parts) + ".")
        sign_parts = []
        for server, route in (("hoist", SIGN), ("hoist", SIGN_V1), ("companion", SIGN)):
            vals = [num(r["server_cpu_us_per_req"]) for r in b
                    if r["round"].isdigit() and r["server"] == server and r["route"] == route]
            vals = [v for v in vals if v is not None]
            if vals:
                sign_parts.append(f"{server} {route}: {fmt(statistics.median(vals))} µs")
        if sign_parts:
            notes.append("CPU per signing request (medians): " + "; ".join(sign_parts) + ".")

        # CPU per request moves less with the machine's load than req/s does: the same ratios
        # in CPU (a create's CPU is the server's and the store's together).
        def cpu(server, route, fields):
            tot = []
            for k in sorted({r["round"] for r in b if r["round"].isdigit()}):
                rs = [r for r in b if r["round"] == k and r["server"] == server and r["route"] == route]
                if rs and all(num(rs[0][f]) is not None for f in fields):
                    tot.append(sum(num(rs[0][f]) for f in fields))
            return statistics.median(tot) if tot else None
        both = ["server_cpu_us_per_req", "store_cpu_us_per_req"]
        cpu_parts = []
        for label, hroute, croute, fields in (
            ("sign", SIGN, SIGN, ["server_cpu_us_per_req"]),
            ("sign (/v1 parts)", SIGN_V1, SIGN, ["server_cpu_us_per_req"]),
            ("create, server and store", CREATE, CREATE, both),
            ("create (/v1), server and store", CREATE_V1, CREATE, both),
        ):
            h, c = cpu("hoist", hroute, fields), cpu("companion", croute, fields)
            if h and c:
                cpu_parts.append(f"{label}: hoist {fmt(h)} µs, Companion {fmt(c)} µs, {fmt(c / h)}×")
        if cpu_parts:
            notes.append("CPU per request (medians over the rounds; less sensitive to the machine's "
                         "load than req/s): " + "; ".join(cpu_parts) + ".")

    for name in ("store", "coordinator"):
        p = os.path.join(a.out, f"strace-{name}.txt")
        if not os.path.exists(p):
            continue
        calls = {}
        for line in open(p):
            m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)$", line)
            if m and m.group(2) != "total":
                calls[m.group(2)] = int(m.group(1))
        run = open(os.path.join(a.out, "strace-run.txt")).read() if os.path.exists(
            os.path.join(a.out, "strace-run.txt")) else ""
        m = re.search(r"requests=(\d+)", run)
        if calls and m and int(m.group(1)):
            n = int(m.group(1))
            top = sorted(calls.items(), key=lambda kv: -kv[1])[:8]
            top += [(k, calls[k]) for k in ("connect", "accept4", "fsync")
                    if k in calls and k not in dict(top)]
            notes.append(f"strace -c -f of the {name} through {n} creates (POST /s3/multipart), "
                         "system calls per create: " + ", ".join(f"{k} {v / n:.1f}" for k, v in top) + ".")

    summary = {
        "name": "coordinator",
        "title": "Coordinator against @uppy/companion",
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": "bench/run.sh coordinator",
        "versions": {"hoist": a.hoist, "@uppy/companion": a.companion, "node": a.node, "wrk": a.wrk},
        "table": {
            "columns": ["route", "hoist req/s", "companion req/s", "ratio", "hoist p99 ms",
                        "companion p99 ms", "target", "met"],
            "rows": table,
        },
        "plots": [
            {"file": "rates.svg", "kind": "bar", "title": f"requests per second, {a.connections} connections",
             "unit": "req/s", "log": True, "bars": bars},
            {"file": "ratio.svg", "kind": "bar", "title": "hoist ÷ companion", "unit": "×",
             "bars": ratio_bars},
        ],
        "notes": notes,
    }
    with open(os.path.join(a.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1, ensure_ascii=False)
        f.write("\n")


if __name__ == "__main__":
    main()
