#!/usr/bin/env python3
"""bench/lib/client_report.py — turns the raw figures of bench/client.sh into the table.

usage: client_report.py RESULTS.tsv META.env OUT.md

RESULTS.tsv: one `client<TAB>figure<TAB>run<TAB>value` a line; run 0 is the warm-up and is left out
of the medians. META.env: `key=value` lines describing the run. Prints the table on stdout and writes
it, with the machine, the per-run values and notes, to OUT.md.
"""

import statistics
import sys
from collections import defaultdict

SYSTEMS = ("rreg", "skopeo")

# key, label, unit, decimals (None: seconds); every figure here is better lower
FIGURES = [
    ("push_s", "push, blobs new", "s", None),
    ("pull_s", "pull into a fresh store / `dir:`", "s", None),
    ("repush_s", "no-op re-push, {ten}", "s", None),
    ("repush_requests", "no-op re-push: HTTP requests the server answered", "requests", 0),
    ("repush_token_requests", "… of which `/token`", "requests", 0),
    ("repush_401", "… of which answered 401", "requests", 0),
    ("push_requests", "push: HTTP requests", "requests", 0),
    ("pull_requests", "pull: HTTP requests", "requests", 0),
    ("push_cpu_s", "push: client CPU time", "CPU-s", 2),
    ("pull_cpu_s", "pull: client CPU time", "CPU-s", 2),
    ("repush_cpu_s", "no-op re-push: client CPU time", "CPU-s", 3),
    ("push_rss_mib", "push: client peak RSS", "MiB", 1),
    ("pull_rss_mib", "pull: client peak RSS", "MiB", 1),
]


def fmt(v, decimals=None):
    if v is None:
        return "—"
    if decimals is None:  # seconds: 3 significant digits, at least 2 decimals
        decimals = 3 if v < 1 else 2
    if decimals == 0:
        return f"{v:,.0f}"
    return f"{v:,.{decimals}f}"


def raw(v):
    """A per-run value: integers as such, others with 4 significant digits, never in e-notation."""
    if v == int(v) and abs(v) < 1e12:
        return str(int(v))
    return f"{v:.1f}" if abs(v) >= 1e4 else f"{v:.4g}"


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
    runs = defaultdict(dict)  # (system, figure) -> {run: value}
    with open(tsv) as f:
        for line in f:
            sysname, fig, run, value = line.rstrip("\n").split("\t")
            runs[(sysname, fig)][int(run)] = float(value)

    def values(sysname, fig):
        return [v for r, v in sorted(runs[(sysname, fig)].items()) if r > 0]

    def med(sysname, fig):
        v = values(sysname, fig)
        return statistics.median(v) if v else None

    subst = {"ten": meta.get("ten_desc", "10 layers")}
    table = ["| figure ↓ | rreg | skopeo | ratio |", "|---|---:|---:|---:|"]
    for key, label, unit, dec in FIGURES:
        a, b = med("rreg", key), med("skopeo", key)
        table.append(f"| {label.format(**subst)} ({unit}) | {fmt(a, dec)} | {fmt(b, dec)} | {ratio(a, b)} |")

    nbytes = int(meta["image_bytes"])
    n = meta["runs"]
    title = (
        f"rreg client vs skopeo {meta.get('skopeo_version', '?')} against rreg-server — "
        f"{meta['image_mib']} MiB image ({nbytes / 1e6:.0f} MB, {meta['layers_desc']}), "
        f"median of {n} run{'s' if n != '1' else ''} after 1 warm-up"
    )
    rates = []
    for s in SYSTEMS:
        p, q = med(s, "push_s"), med(s, "pull_s")
        if p and q:
            rates.append(f"- {s}: push {nbytes / p / 1e6:,.0f} MB/s, pull {nbytes / q / 1e6:,.0f} MB/s")
    legend = "ratio = rreg ÷ skopeo; every figure is better lower, so below 1 means rreg does better."
    print("\n".join([title, "", *table, "", "Throughput:", *rates, "", legend]))

    cmd = " ".join(["bench/client.sh", meta.get("args", "")]).strip()
    md = [f"# {title}", "", f"Run on {meta.get('date', '?')} with `{cmd}`.", ""]
    md += table + ["", legend, "", "Throughput (from the medians):", *rates, ""]
    md += ["## Machine and versions", ""]
    for k in ("host", "cpu", "nproc", "mem", "kernel", "rreg_commit", "rreg_bin", "rreg_server_bin",
              "skopeo_version", "loadavg_start", "loadavg_end"):
        if k in meta:
            md.append(f"- {k}: {meta[k]}")
    md += ["", "## Every run", "", "Run 0 is the warm-up, left out of the medians.", ""]
    maxrun = max((r for d in runs.values() for r in d), default=0)
    md += ["| client | figure | " + " | ".join(f"run {r}" for r in range(maxrun + 1)) + " | median |"]
    md += ["|---|---|" + "---:|" * (maxrun + 2)]
    keys = [(s, f[0]) for f in FIGURES for s in SYSTEMS]
    keys += sorted(k for k in runs if k not in keys)
    for s, fig in keys:
        d = runs.get((s, fig))
        if not d:
            continue
        cells = [raw(d[r]) if r in d else "" for r in range(maxrun + 1)]
        m = med(s, fig)
        md.append(f"| {s} | {fig} | " + " | ".join(cells) + f" | {raw(m) if m is not None else '—'} |")
    md += ["", "## Notes", ""]
    md += [f"- {line}" for line in meta.get("notes", "").split("\\n") if line]
    with open(out, "w") as f:
        f.write("\n".join(md) + "\n")


if __name__ == "__main__":
    main()
