#!/usr/bin/env python3
"""bench/lib/load_report.py — turns the raw figures of bench/load.sh into the table.

usage: load_report.py RESULTS.tsv META.env OUT.md

RESULTS.tsv: `system<TAB>figure<TAB>run<TAB>value` lines; run 0 is the warm-up and is left out of
the medians. Latency figures are `<kind>|p50_ms`, `<kind>|p99_ms`, `<kind>|n`. Prints the table and
writes it, with the machine, every run and the notes, to OUT.md.
"""

import statistics
import sys
from collections import defaultdict

PAIRS = [("rreg-token", "dist-htpasswd"), ("rreg-noauth", "dist-noauth")]
LABEL = {
    "rreg-token": "rreg, token auth",
    "dist-htpasswd": "distribution, htpasswd",
    "rreg-noauth": "rreg, auth off",
    "dist-noauth": "distribution, no auth",
}
KINDS = [
    ("token GET", "token GET (`/token`, Basic → Bearer)"),
    ("blob HEAD", "blob HEAD (before each upload, 404)"),
    ("upload POST", "upload POST (start)"),
    ("upload PATCH", "upload PATCH (1 MiB chunk)"),
    ("upload PUT", "upload PUT (finish; monolithic: with the bytes)"),
    ("op:blob upload", "whole blob upload, POST … PUT"),
    ("manifest PUT", "manifest PUT"),
    ("manifest GET", "manifest GET (by tag)"),
    ("blob GET", "blob GET"),
]
# key, label, decimals, better
TOP = [
    ("errors", "errors (must be 0)", 0, "lower"),
    ("requests", "HTTP requests", 0, None),
    ("wall_s", "wall time", 1, "lower"),
    ("requests_per_s", "throughput, requests/s", 0, "higher"),
    ("images_per_s", "throughput, images pushed (and pulled back)/s", 1, "higher"),
    ("mb_per_s_up", "throughput, MB/s pushed", 1, "higher"),
    ("mb_per_s_down", "throughput, MB/s pulled", 1, "higher"),
    ("hwm_mib", "server peak RSS (VmHWM), MiB", 1, "lower"),
    ("server_cpu_s", "server CPU time, s", 1, "lower"),
    ("client_cpu_s", "generator CPU time, s", 1, None),
]


def fmt(v, d):
    if v is None:
        return "—"
    return f"{v:,.{d}f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "—"
    r = a / b
    return f"{r:.2f}×" if r < 10 else f"{r:.1f}×"


def main() -> None:
    tsv, meta_path, out = sys.argv[1:4]
    meta = {}
    with open(meta_path) as f:
        for line in f:
            if "=" in line:
                k, _, v = line.rstrip("\n").partition("=")
                meta[k] = v
    runs = defaultdict(dict)
    with open(tsv) as f:
        for line in f:
            s, fig, run, value = line.rstrip("\n").split("\t")
            runs[(s, fig)][int(run)] = float(value)
    systems = meta.get("systems", "").split()

    def med(s, fig):
        v = [x for r, x in runs.get((s, fig), {}).items() if r > 0]
        return statistics.median(v) if v else None

    pairs = [(a, b) for a, b in PAIRS if a in systems or b in systems]
    head = "| figure | " + " | ".join(f"{LABEL[a]} | {LABEL[b]} | ratio" for a, b in pairs) + " |"
    sep = "|---|" + "---:|---:|---:|" * len(pairs)
    rows = [head, sep]
    for key, label, d, better in TOP:
        arrow = {"lower": " ↓", "higher": " ↑"}.get(better, "")
        cells = []
        for a, b in pairs:
            va, vb = med(a, key), med(b, key)
            cells += [fmt(va, d), fmt(vb, d), ratio(va, vb) if better else ""]
        rows.append(f"| {label}{arrow} | " + " | ".join(cells) + " |")
    for kind, label in KINDS:
        for p in ("p50", "p99"):
            cells = []
            for a, b in pairs:
                va, vb = med(a, f"{kind}|{p}_ms"), med(b, f"{kind}|{p}_ms")
                cells += [fmt(va, 1), fmt(vb, 1), ratio(va, vb)]
            if all(c in ("—", "") for c in cells):
                continue
            rows.append(f"| {label}, {p} ms ↓ | " + " | ".join(cells) + " |")
    counts = []
    for kind, label in KINDS:
        parts = []
        for s in systems:
            n = med(s, f"{kind}|n")
            if n is not None:
                parts.append(f"{LABEL[s]} {n:,.0f}")
        if parts:
            counts.append(f"- {label}: " + "; ".join(parts))

    n = meta["runs"]
    title = (
        f"Load: {meta['clients']} clients × {meta['iterations']} push + pull iterations — rreg-server vs "
        f"CNCF distribution {meta.get('distribution_version', '?')}, median of {n} round{'s' if n != '1' else ''} "
        f"after a warm-up"
    )
    table = "\n".join(rows)
    print(title + "\n\n" + table + "\n\nratio = rreg ÷ distribution; ↓ lower is better, ↑ higher is better.")

    md = [f"# {title}", "", f"Run on {meta.get('date', '?')} with `bench/load.sh {meta.get('args', '')}`.".replace(" `.", "`."), ""]
    md += rows + ["", "ratio = rreg ÷ distribution; ↓ lower is better, ↑ higher is better.", ""]
    md += ["Requests per type (median round):", "", *counts, ""]
    md += ["## Machine and versions", ""]
    for k in ("host", "cpu", "nproc", "mem", "kernel", "rreg_commit", "rreg_bin", "distribution_version",
              "loadavg_start", "loadavg_end"):
        if k in meta:
            md.append(f"- {k}: {meta[k]}")
    md += ["", "## Every run", "", f"Run 0 is the warm-up ({meta.get('warm_iterations', '?')} iterations per client), left out of the medians.", ""]
    maxrun = max((r for d in runs.values() for r in d), default=0)
    md += ["| system | figure | " + " | ".join(f"run {r}" for r in range(maxrun + 1)) + " | median |",
           "|---|---|" + "---:|" * (maxrun + 2)]
    figs = [k for k, *_ in TOP] + ["iterations", "images_pushed", "images_pulled", "stopped_by_time", "client_maxrss_mib"]
    figs += [f"{k}|{p}" for k, _ in KINDS for p in ("n", "p50_ms", "p99_ms")]
    for s in systems:
        for fig in figs:
            d = runs.get((s, fig))
            if not d:
                continue
            cells = [f"{d[r]:.4g}" if r in d else "" for r in range(maxrun + 1)]
            m = med(s, fig)
            md.append(f"| {s} | {fig} | " + " | ".join(cells) + f" | {'—' if m is None else f'{m:.4g}'} |")
    md += ["", "## Notes", ""]
    for line in meta.get("notes", "").split("\\n"):
        if line:
            md.append(f"- {line}")
    with open(out, "w") as f:
        f.write("\n".join(md) + "\n")


if __name__ == "__main__":
    main()
