#!/usr/bin/env python3
"""Turns bench/memory.sh's samples (OUT/raw.csv) into OUT/results.csv and OUT/summary.json.

    summarize.py OUT --hoist BIN [--load-start "1.0 0.9 0.8"]

Bytes per open upload is the slope (RSS(last step) - RSS(0)) / last step; the slope of each
step and the marginal one from 10,000 on are given as notes, with RSS after the aborts and,
for the store, the data directory's size per open upload.
"""

import argparse
import csv
import datetime
import importlib.metadata
import json
import os
import platform
import subprocess
import sys

BOUNDS = {
    "store": "none: one index entry per upload, and a journal line until its first part gives "
             "it a directory, until Complete, Abort or a lifecycle rule (hoist serve sets one: "
             "1 day) removes it",
    "coordinator": "nothing kept per upload (a counter per caller); --max-open-uploads per "
                   "caller per --open-uploads-window (default 1000 per hour), per replica",
    "store (behind the coordinator)": "as the store",
}
SERIES = {"store": "store", "coordinator": "coordinator",
          "store (behind the coordinator)": "store behind the coordinator"}


def mib(kib):
    return round(kib / 1024, 1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--hoist", required=True)
    p.add_argument("--load-start", default="")
    args = p.parse_args()

    rows = list(csv.DictReader(open(os.path.join(args.out, "raw.csv"))))
    for r in rows:
        for k in ("open_uploads", "rss_kib", "hwm_kib", "anon_kib", "errors"):
            r[k] = int(r[k]) if r[k] else None
        for k in ("du_kib", "du_apparent_kib"):
            r[k] = int(r[k]) if r[k] else None

    procs = []
    for r in rows:
        if r["process"] not in procs:
            procs.append(r["process"])

    with open(os.path.join(args.out, "results.csv"), "w") as f:
        f.write("process,open_uploads,rss_kib,hwm_kib\n")
        for r in rows:
            if r["phase"] == "open":
                f.write(f"{r['process']},{r['open_uploads']},{r['rss_kib']},{r['hwm_kib']}\n")

    table, series, notes = [], [], []
    for proc in procs:
        opened = [r for r in rows if r["process"] == proc and r["phase"] == "open"]
        if not opened:
            continue
        base, top = opened[0], opened[-1]
        n = top["open_uploads"]
        slope = (top["rss_kib"] - base["rss_kib"]) * 1024 / n if n else 0
        table.append([proc, f"{mib(base['rss_kib'])} MiB", f"{mib(top['rss_kib'])} MiB",
                      round(slope), BOUNDS.get(proc, "")])
        series.append({"label": SERIES.get(proc, proc),
                       "points": [[r["open_uploads"], mib(r["rss_kib"])] for r in opened]})
        steps = []
        for a, b in zip(opened, opened[1:]):
            d = b["open_uploads"] - a["open_uploads"]
            steps.append(f"{a['open_uploads']:,}→{b['open_uploads']:,}: "
                         f"{(b['rss_kib'] - a['rss_kib']) * 1024 / d:,.0f}" if d else "")
        notes.append(f"{proc}: bytes of RSS per open upload, step by step: " + "; ".join(steps) + ".")
        mid = next((r for r in opened if r["open_uploads"] >= 10000), None)
        if mid and mid is not top:
            marg = (top["rss_kib"] - mid["rss_kib"]) * 1024 / (n - mid["open_uploads"])
            anon = ""
            if mid["anon_kib"] is not None and top["anon_kib"] is not None:
                anon = (f" (RssAnon alone: {(top['anon_kib'] - mid['anon_kib']) * 1024 / (n - mid['open_uploads']):,.0f})")
            notes.append(f"{proc}: marginal bytes per open upload from {mid['open_uploads']:,} to "
                         f"{n:,}: {marg:,.0f}{anon}; VmHWM at {n:,}: {mib(top['hwm_kib'])} MiB.")
        if top["du_kib"] is not None and base["du_kib"] is not None and n:
            notes.append(
                f"{proc}: data directory on disk, {(top['du_kib'] - base['du_kib']) * 1024 / n:,.0f} bytes "
                f"per open upload in blocks (du), {(top['du_apparent_kib'] - base['du_apparent_kib']) * 1024 / n:,.0f} "
                f"apparent (du --apparent-size); {mib(top['du_kib'])} MiB at {n:,}.")
        after = [r for r in rows if r["process"] == proc and r["phase"] in ("abort", "after")]
        if after:
            said = ", ".join(
                f"{'just after' if r['phase'] == 'abort' else 'later'} {mib(r['rss_kib'])} MiB"
                + (f" (du {mib(r['du_kib'])} MiB)" if r["du_kib"] is not None else "")
                for r in after)
            notes.append(f"{proc}: every upload aborted ({after[-1]['open_uploads']} left open): RSS {said}, "
                         f"against {mib(top['rss_kib'])} MiB with {n:,} open and {mib(base['rss_kib'])} MiB at 0.")
        again = [r for r in rows if r["process"] == proc and r["phase"][-1:].isdigit()]
        if again:
            notes.append(f"{proc}: opened and aborted again: " + ", ".join(
                f"{'with' if r['phase'].startswith('open') else 'after abort,'} "
                f"{r['open_uploads']:,} open (cycle {r['phase'][-1]}) {mib(r['rss_kib'])} MiB, VmHWM {mib(r['hwm_kib'])} MiB"
                for r in again) + "; "
                + (lambda first, second: f"the second cycle's highest RSS is {mib(second - first):+} MiB from the first's "
                   f"({(second - first) * 100 / first:+.0f}%)")(
                    max(x["rss_kib"] for x in rows if x["process"] == proc and not x["phase"][-1:].isdigit()),
                    max(r["rss_kib"] for r in again)) + ".")
        errs = max((r["errors"] or 0) for r in rows if r["process"] == proc)
        if errs:
            notes.append(f"{proc}: {errs} requests failed during the run.")
    notes += [
        "What the store keeps per open upload (crates/hoist-store/src/storage.rs, `Uploads`): an "
        "entry of `by_id: HashMap<String, Box<UploadEntry>>` (key: the 32-hex upload id; a slot "
        "of 32 bytes, the table at most twice what it holds; `UploadEntry` is 304 bytes on the "
        "heap: `UploadMeta` 280 (id, bucket, key, initiated, content type, "
        "metadata map, five optional headers, checksum algorithm and type, the generation seen at "
        "the key) and an empty parts map), plus the strings on the heap: "
        "about 610 bytes of malloc chunks for the store phase's keys, 690 for the coordinator's "
        "longer keys with a content type (modelled with a counting allocator; a B-tree of the "
        "entries before 2026-12-05 21:00 UTC); and an entry of its bucket's "
        "`listed: BTreeSet<(key, upload id)>`, ListMultipartUploads' order, so a page "
        "starts at its marker instead of sorting every upload (its own copies of the two "
        "strings: the rise from about 700 to about 950 bytes since 2026-12-03); and the uploads "
        "journal's note of the upload (its id and whether its line is still needed, about 60 "
        "bytes); on disk, a line of uploads.journal until the first part, then uploads/<id>/ and "
        "its upload.json (two inodes).",
        "What the coordinator keeps per open upload: nothing. An upload is an HMAC-signed token "
        "held by the client; crates/hoist-server/src/limits.rs keeps one `Caller` per caller "
        "(a token bucket and a count of open uploads, about 100 bytes, at most 65,536 callers). "
        "Completed or aborted uploads are remembered in `Ended` (a HashSet and a VecDeque of "
        "the store's upload ids, at most 65,536), which is what its RSS gains after the aborts: "
        "about 170 bytes per id of 32 characters (hoist-store's), about 520 for ids of 157 "
        "characters (modelled), so at most about 11 MiB here and 33 MiB in front of a store with "
        "long ids.",
    ]
    loads = sorted({r["load1"] for r in rows}, key=float)
    notes.append(f"Load average (1 min) while sampling: {loads[0]}–{loads[-1]}"
                 + (f"; at the start {args.load_start}" if args.load_start else "")
                 + ". The machine's 2 cores were shared with other work; memory figures do not "
                   "depend on it, request rates do.")

    version = subprocess.run([args.hoist, "--version"], capture_output=True, text=True).stdout.strip()
    rev = version.rsplit("(", 1)[-1].rstrip(")") if "(" in version else version
    versions = {"hoist": rev, "python": platform.python_version()}
    try:
        versions["boto3"] = importlib.metadata.version("boto3")
    except importlib.metadata.PackageNotFoundError:
        versions["boto3"] = "not used"
    summary = {
        "name": "memory",
        "title": "Memory per open upload",
        "date": datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0).isoformat().replace("+00:00", "Z"),
        "command": "bench/run.sh memory",
        "versions": versions,
        "notes": notes,
        "table": {"columns": ["process", "RSS at 0", "RSS at 100k", "bytes per open upload", "bound"],
                  "rows": table},
        "plots": [{"file": "rss.svg", "kind": "line", "title": "RSS against open uploads",
                   "xlabel": "open uploads", "unit": "MiB", "series": series}],
    }
    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print("\n".join(notes), file=sys.stderr)


if __name__ == "__main__":
    main()
