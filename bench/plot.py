#!/usr/bin/env python3
"""Draws a benchmark's results: `python3 bench/plot.py bench/results/NAME`.

Reads `summary.json` in that folder (written by the benchmark), fills in the machine when the
benchmark did not, draws each plot it lists as an SVG file next to it, and writes `README.md`
there: title, date, machine, versions, the command, the table and the plots. Standard library
only, so it runs wherever the benchmarks run.

`summary.json`:
    {"name", "title", "date", "command", "versions": {name: version},
     "machine": {...} (optional), "notes": [str] (optional),
     "table": {"columns": [...], "rows": [[...], ...]},
     "plots": [{"file": "x.svg", "kind": "bar", "title", "unit", "log": false,
                "bars": [{"label", "value", "low", "high", "group"}]},
               {"file": "y.svg", "kind": "line", "title", "xlabel", "unit", "xlog": false,
                "series": [{"label", "points": [[x, y], ...]}]}]}

`python3 bench/plot.py machine` prints the machine description as JSON.
"""

import json
import math
import os
import platform
import sys
from html import escape

WIDTH = 720
COLORS = ["#1f6feb", "#d1242f", "#2da44e", "#bf8700", "#8250df", "#57606a", "#e16f24", "#0a7b83"]


def machine():
    """CPU model, cores, memory, kernel and load average, read from /proc."""
    info = {"cores": os.cpu_count(), "kernel": platform.release()}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            kib = int(f.readline().split()[1])
            info["memory"] = f"{kib / 1024 / 1024:.0f} GiB"
        info["load average"] = " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        pass
    return info


def fmt(v):
    """A number as a person writes it: 3 significant figures, thousands separated."""
    if v is None:
        return ""
    if isinstance(v, str):
        return v
    a = abs(v)
    if isinstance(v, float) and v.is_integer() and a >= 1:
        v = int(v)
    if isinstance(v, int):
        return f"{v:,}"
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.0f}"
    if a >= 10:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.3g}"


def nice_ticks(lo, hi, count=5):
    """Round tick values covering [lo, hi]."""
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / count
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=10 * mag)
    start = math.floor(lo / step) * step
    ticks = []
    t = start
    while t <= hi + step * 0.5:
        ticks.append(round(t, 10))
        t += step
    return ticks


def log_ticks(lo, hi):
    return [10 ** e for e in range(math.floor(math.log10(lo)), math.ceil(math.log10(hi)) + 1)]


def svg_open(height, title):
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
        f'<text x="{WIDTH / 2}" y="20" text-anchor="middle" font-size="14" font-weight="bold">'
        f"{escape(title)}</text>",
    ]


def bar_svg(plot):
    """Horizontal bars, one per entry, with the spread (low–high) drawn as a whisker."""
    bars = plot["bars"]
    log = plot.get("log", False)
    unit = plot.get("unit", "")
    # Room on the left for the longest label (about 6.6 px a character at 12 px).
    left = max(120, int(max((len(b["label"]) for b in bars), default=10) * 6.6) + 16)
    right, row = 90, 26
    top = 50 if "target" in plot else 36
    height = top + row * len(bars) + 40
    values = [b["value"] for b in bars] + [b.get("high", b["value"]) for b in bars]
    hi = max(values) if values else 1
    if log:
        lo = min(b["value"] for b in bars if b["value"] > 0) if bars else 1
        ticks = log_ticks(lo, hi)
        lo, hi = ticks[0], ticks[-1]

        def x(v):
            v = max(v, lo)
            return left + (WIDTH - left - right) * (math.log10(v) - math.log10(lo)) / (
                math.log10(hi) - math.log10(lo) or 1)
    else:
        ticks = nice_ticks(0, hi)
        lo, hi = 0, ticks[-1]

        def x(v):
            return left + (WIDTH - left - right) * (v - lo) / (hi - lo or 1)

    out = svg_open(height, plot["title"])
    groups = []
    for b in bars:
        g = b.get("group", b["label"].split()[0])
        if g not in groups:
            groups.append(g)
    axis_y = top + row * len(bars)
    for t in ticks:
        tx = x(t)
        out.append(f'<line x1="{tx:.1f}" y1="{top - 4}" x2="{tx:.1f}" y2="{axis_y}" stroke="#ddd"/>')
        out.append(f'<text x="{tx:.1f}" y="{axis_y + 14}" text-anchor="middle" fill="#444">{fmt(t)}</text>')
    out.append(f'<text x="{(left + WIDTH - right) / 2}" y="{axis_y + 30}" text-anchor="middle" '
               f'fill="#444">{escape(unit)}{" (log scale)" if log else ""}</text>')
    for i, b in enumerate(bars):
        y = top + i * row
        color = COLORS[groups.index(b.get("group", b["label"].split()[0])) % len(COLORS)]
        x0, x1 = x(lo), x(b["value"])
        out.append(f'<text x="{left - 8}" y="{y + 16}" text-anchor="end">{escape(b["label"])}</text>')
        out.append(f'<rect x="{x0:.1f}" y="{y + 4}" width="{max(x1 - x0, 1):.1f}" height="{row - 8}" '
                   f'fill="{color}" fill-opacity="0.85"/>')
        if "low" in b and "high" in b and b["high"] != b["low"]:
            wl, wh = x(b["low"]), x(b["high"])
            yc = y + row / 2
            out.append(f'<line x1="{wl:.1f}" y1="{yc}" x2="{wh:.1f}" y2="{yc}" stroke="black"/>')
            for wx in (wl, wh):
                out.append(f'<line x1="{wx:.1f}" y1="{yc - 5}" x2="{wx:.1f}" y2="{yc + 5}" stroke="black"/>')
        label_x = max(x1, x(b.get("high", b["value"]))) + 6
        out.append(f'<text x="{label_x:.1f}" y="{y + 16}">{fmt(b["value"])}</text>')
    if "target" in plot:
        tx = x(plot["target"])
        out.append(f'<line x1="{tx:.1f}" y1="{top - 6}" x2="{tx:.1f}" y2="{axis_y}" stroke="#d1242f" '
                   f'stroke-dasharray="4 3"/>')
        out.append(f'<text x="{tx + 3:.1f}" y="{top - 8}" fill="#d1242f">target {fmt(plot["target"])}</text>')
    out.append("</svg>")
    return "\n".join(out)


def line_svg(plot):
    """One line per series, with a legend; x may be on a log scale."""
    series = plot["series"]
    unit = plot.get("unit", "")
    xlog = plot.get("xlog", False)
    left, top, bottom = 70, 36, 50
    right = max(150, int(max((len(s["label"]) for s in series), default=10) * 6.6) + 50)
    height = 340
    xs = [p[0] for s in series for p in s["points"]]
    ys = [p[1] for s in series for p in s["points"]]
    if not xs:
        xs, ys = [0, 1], [0, 1]
    yt = nice_ticks(min(0, min(ys)), max(ys))
    if xlog:
        xt = log_ticks(min(v for v in xs if v > 0), max(xs))

        def x(v):
            v = max(v, xt[0])
            return left + (WIDTH - left - right) * (math.log10(v) - math.log10(xt[0])) / (
                math.log10(xt[-1]) - math.log10(xt[0]) or 1)
    else:
        xt = nice_ticks(min(0, min(xs)), max(xs))

        def x(v):
            return left + (WIDTH - left - right) * (v - xt[0]) / (xt[-1] - xt[0] or 1)

    def y(v):
        return height - bottom - (height - top - bottom) * (v - yt[0]) / (yt[-1] - yt[0] or 1)

    out = svg_open(height, plot["title"])
    for t in yt:
        out.append(f'<line x1="{left}" y1="{y(t):.1f}" x2="{WIDTH - right}" y2="{y(t):.1f}" stroke="#ddd"/>')
        out.append(f'<text x="{left - 6}" y="{y(t) + 4:.1f}" text-anchor="end" fill="#444">{fmt(t)}</text>')
    for t in xt:
        out.append(f'<line x1="{x(t):.1f}" y1="{top}" x2="{x(t):.1f}" y2="{height - bottom}" stroke="#eee"/>')
        out.append(f'<text x="{x(t):.1f}" y="{height - bottom + 14}" text-anchor="middle" fill="#444">'
                   f"{fmt(t)}</text>")
    out.append(f'<text x="{(left + WIDTH - right) / 2}" y="{height - 12}" text-anchor="middle" fill="#444">'
               f'{escape(plot.get("xlabel", ""))}</text>')
    out.append(f'<text x="16" y="{(top + height - bottom) / 2}" text-anchor="middle" fill="#444" '
               f'transform="rotate(-90 16 {(top + height - bottom) / 2})">{escape(unit)}</text>')
    for i, s in enumerate(series):
        color = COLORS[i % len(COLORS)]
        pts = sorted(s["points"])
        path = " ".join(f"{x(px):.1f},{y(py):.1f}" for px, py in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for px, py in pts:
            out.append(f'<circle cx="{x(px):.1f}" cy="{y(py):.1f}" r="3" fill="{color}"/>')
        ly = top + 10 + i * 18
        out.append(f'<line x1="{WIDTH - right + 12}" y1="{ly}" x2="{WIDTH - right + 32}" y2="{ly}" '
                   f'stroke="{color}" stroke-width="2"/>')
        out.append(f'<text x="{WIDTH - right + 38}" y="{ly + 4}">{escape(s["label"])}</text>')
    out.append("</svg>")
    return "\n".join(out)


def markdown(summary):
    lines = [f"# {summary.get('title', summary.get('name', 'benchmark'))}", ""]
    lines.append(f"Command: `{summary.get('command', '')}` · date: {summary.get('date', '')}")
    lines.append("")
    m = summary.get("machine", {})
    if m:
        lines.append("Machine: " + "; ".join(f"{k} {v}" for k, v in m.items()))
        lines.append("")
    v = summary.get("versions", {})
    if v:
        lines.append("Versions: " + "; ".join(f"{k} {val}" for k, val in v.items()))
        lines.append("")
    t = summary.get("table")
    if t and t.get("rows"):
        lines.append("| " + " | ".join(str(c) for c in t["columns"]) + " |")
        lines.append("|" + "---|" * len(t["columns"]))
        for r in t["rows"]:
            lines.append("| " + " | ".join(fmt(c) for c in r) + " |")
        lines.append("")
    for n in summary.get("notes", []):
        lines.append(f"- {n}")
    if summary.get("notes"):
        lines.append("")
    for p in summary.get("plots", []):
        lines.append(f"![{p['title']}]({p['file']})")
        lines.append("")
    return "\n".join(lines)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: bench/plot.py RESULTS_DIR | machine")
    if sys.argv[1] == "machine":
        print(json.dumps(machine()))
        return
    folder = sys.argv[1]
    path = os.path.join(folder, "summary.json")
    with open(path) as f:
        summary = json.load(f)
    if "machine" not in summary:
        summary["machine"] = machine()
        with open(path, "w") as f:
            json.dump(summary, f, indent=1, ensure_ascii=False)
            f.write("\n")
    for plot in summary.get("plots", []):
        draw = {"bar": bar_svg, "line": line_svg}[plot["kind"]]
        with open(os.path.join(folder, plot["file"]), "w") as f:
            f.write(draw(plot))
    with open(os.path.join(folder, "README.md"), "w") as f:
        f.write(markdown(summary))
    print(f"wrote {folder}/README.md and {len(summary.get('plots', []))} plot(s)")


if __name__ == "__main__":
    main()
