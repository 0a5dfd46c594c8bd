#!/usr/bin/env python3
"""bench/lib/report.py — turns the raw figures of bench/registry.sh into the table.

usage: report.py RESULTS.tsv META.env OUT.md

RESULTS.tsv: one `system<TAB>figure<TAB>run<TAB>value` a line; run 0 is the warm-up and is left out
of the medians. META.env: `key=value` lines describing the run. Prints the table on stdout and writes
it, with the machine, the per-run values and notes, to OUT.md.
"""

import statistics
import sys
from collections import defaultdict

SYSTEMS = ("rreg", "distribution")

# key, label, unit, better ("lower"/"higher"), decimals
FIGURES = [
    ("push_s", "push, blobs new", "s", "lower", None),
    ("repush_s", "re-push, everything present", "s", "lower", None),
    ("pull_s", "pull, `skopeo copy` to `dir:`", "s", "lower", None),
    ("get_s", "curl GET of the 5 blobs, sequential", "s", "lower", None),
    ("wrk_get_rps", "manifest GET by tag (wrk -t2 -c8)", "req/s", "higher", 0),
    ("ab_mhead_rps", "manifest HEAD (ab -k -c8)", "req/s", "higher", 0),
    ("ab_bhead_rps", "blob HEAD (ab -k -c8)", "req/s", "higher", 0),
    ("tagput_tps", "{tags} tag PUTs, 8 in parallel", "tags/s", "higher", 0),
    ("taglist_ms", "tags/list of {tags1} tags (median of 20)", "ms", "lower", 1),
    ("hwm_push_mib", "peak RSS during the push", "MiB", "lower", 1),
    ("hwm_load_mib", "peak RSS during the request load", "MiB", "lower", 1),
    ("push_cpu_s", "server CPU time during the push", "CPU-s", "lower", 2),
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
            sysname, fig, run, value = line.split("\t")
            runs[(sysname, fig)][int(run)] = float(value)

    def values(sysname, fig):
        return [v for r, v in sorted(runs[(sysname, fig)].items()) if r > 0]

    def med(sysname, fig):
        v = values(sysname, fig)
        return statistics.median(v) if v else None

    tags = int(meta.get("tags", "10000"))
    subst = {"tags": f"{tags:,}", "tags1": f"{tags + 1:,}"}
    rows = []
    for key, label, unit, better, dec in FIGURES:
        a, b = med("rreg", key), med("distribution", key)
        arrow = "↓" if better == "lower" else "↑"
        rows.append((f"{label.format(**subst)} ({unit}) {arrow}", fmt(a, dec), fmt(b, dec), ratio(a, b)))

    floor_sha = med("floor", "sha256sum_s")
    floor_ssl = med("floor", "openssl_s")
    nbytes = int(meta["image_bytes"])
    for name, floor in (("sha256sum", floor_sha), ("openssl sha256", floor_ssl)):
        a, b = med("rreg", "push_s"), med("distribution", "push_s")
        pa = 100 * a / floor if a and floor else None
        pb = 100 * b / floor if b and floor else None
        rows.append((f"push time as % of the {name} floor ↓", fmt(pa, 0) + "%", fmt(pb, 0) + "%", ratio(pa, pb)))

    n = meta["runs"]
    title = (
        f"rreg-server vs CNCF distribution {meta.get('distribution_version', '?')} — "
        f"{meta['image_mib']} MiB image ({nbytes / 1e6:.0f} MB, {meta['layers_desc']}), "
        f"median of {n} run{'s' if n != '1' else ''} after 1 warm-up"
    )
    table = ["| figure | rreg | distribution | ratio |", "|---|---:|---:|---:|"]
    table += [f"| {r[0]} | {r[1]} | {r[2]} | {r[3]} |" for r in rows]

    def floor_line(name, t):
        if t is None:
            return f"- {name}: —"
        return f"- {name} of the {nbytes / 1e6:.0f} MB on one core: {t:.3f} s ({nbytes / t / 1e6:,.0f} MB/s)"

    floors = [
        "Floor (median of the same runs):",
        floor_line("`sha256sum` (coreutils)", floor_sha),
        floor_line("`openssl dgst -sha256`", floor_ssl),
    ]
    push_mbs = []
    for s in SYSTEMS:
        p, q = med(s, "push_s"), med(s, "pull_s")
        if p and q:
            push_mbs.append(f"- {s}: push {nbytes / p / 1e6:,.0f} MB/s, pull {nbytes / q / 1e6:,.0f} MB/s")

    text = "\n".join([title, "", *table, "", *floors, "", "Throughput:", *push_mbs, "", "ratio = rreg ÷ distribution; ↓ lower is better, ↑ higher is better."])
    print(text)

    # The markdown file: the same, plus the machine, every run and the notes.
    cmd = " ".join(["bench/registry.sh", meta.get("args", "")]).strip()
    md = [f"# {title}", "", f"Run on {meta.get('date', '?')} with `{cmd}`.", ""]
    md += table + ["", "ratio = rreg ÷ distribution; ↓ lower is better, ↑ higher is better.", "", *floors, "", "Throughput (from the medians):", *push_mbs, ""]
    md += ["## Machine and versions", ""]
    for k in ("host", "cpu", "nproc", "mem", "kernel", "rreg_commit", "rreg_bin", "distribution_version",
              "skopeo_version", "wrk_version", "ab_version", "python_version", "loadavg_start", "loadavg_end"):
        if k in meta:
            md.append(f"- {k}: {meta[k]}")
    md += ["", "## Every run", "", "Run 0 is the warm-up, left out of the medians.", ""]
    maxrun = max((r for d in runs.values() for r in d), default=0)
    header = "| system | figure | " + " | ".join(f"run {r}" for r in range(maxrun + 1)) + " | median |"
    md += [header, "|---|---|" + "---:|" * (maxrun + 2)]
    keys = [(s, f[0]) for f in FIGURES for s in SYSTEMS] + [("floor", "sha256sum_s"), ("floor", "openssl_s")]
    keys += sorted(k for k in runs if k not in keys)
    for s, fig in keys:
        d = runs.get((s, fig))
        if not d:
            continue
        cells = [raw(d[r]) if r in d else "" for r in range(maxrun + 1)]
        m = med(s, fig)
        mstr = raw(m) if m is not None else "—"
        md.append(f"| {s} | {fig} | " + " | ".join(cells) + f" | {mstr} |")
    md += ["", "## Notes", ""]
    for line in meta.get("notes", "").split("\\n"):
        if line:
            md.append(f"- {line}")
    with open(out, "w") as f:
        f.write("\n".join(md) + "\n")


if __name__ == "__main__":
    main()
