#!/usr/bin/env python3
"""bench/lib/browse_report.py — turns the raw figures of bench/browse.sh into the table.

usage: browse_report.py RESULTS.tsv META.env OUT.md

RESULTS.tsv: `system<TAB>endpoint|figure<TAB>run<TAB>value` lines (figures rps, p50_ms, p99_ms,
hwm_mib, bytes); run 0 is the warm-up and is left out of the medians.
"""

import statistics
import sys
from collections import defaultdict

ENDPOINTS = [
    ("rreg", "ui_tags", "UI tag list `/ui/r/{repo}` (first page of 50, by name)"),
    ("rreg", "ui_tags_last_pushed", "UI tag list `?ordering=last_pushed` (first page)"),
    ("rreg", "ui_tags_deep", "UI tag list `?last=t09000` (a page deep in the list)"),
    ("rreg", "api_tags", "API `/-/tags` (first page, n=100)"),
    ("rreg", "api_tags_n1000", "API `/-/tags?n=1000`"),
    ("rreg", "api_history", "API `/-/history/{mid}` ({layers} layers)"),
    ("rreg", "ui_tag", "UI tag page `/ui/r/{repo}/-/tags/{mid}` ({layers}-layer history)"),
    ("rreg", "v2_tags_list", "`/v2/{repo}/tags/list` ({tags} tags)"),
    ("distribution", "v2_tags_list", "`/v2/{repo}/tags/list` ({tags} tags)"),
]


def fmt(v, d):
    return "—" if v is None else f"{v:,.{d}f}"


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

    def med(s, fig, warm=False):
        v = [x for r, x in runs.get((s, fig), {}).items() if r > 0 or warm]
        return statistics.median(v) if v else None

    sub = {"repo": "browse/app", "mid": meta.get("mid_tag", "?"), "layers": meta.get("layers", "50"),
           "tags": f"{int(meta.get('tags', '10000')):,}"}
    rows = ["| system | endpoint | req/s ↑ | p50 ms ↓ | p99 ms ↓ | peak RSS MiB ↓ | response bytes |",
            "|---|---|---:|---:|---:|---:|---:|"]
    for s, e, label in ENDPOINTS:
        rows.append(
            f"| {s} | {label.format(**sub)} | {fmt(med(s, e + '|rps'), 0)} | {fmt(med(s, e + '|p50_ms'), 2)} | "
            f"{fmt(med(s, e + '|p99_ms'), 2)} | {fmt(med(s, e + '|hwm_mib'), 1)} | {fmt(med(s, e + '|bytes', True), 0)} |"
        )
    d_rps, d_p50, d_p99 = (med("distribution", "v2_tags_list|" + f) for f in ("rps", "p50_ms", "p99_ms"))
    cmp = ["| rreg endpoint ÷ distribution `/v2/…/tags/list` | req/s ratio ↑ | p50 ratio ↓ | p99 ratio ↓ |",
           "|---|---:|---:|---:|"]
    for s, e, label in ENDPOINTS:
        if s != "rreg":
            continue
        cmp.append(
            f"| {label.format(**sub)} | {ratio(med(s, e + '|rps'), d_rps)} | {ratio(med(s, e + '|p50_ms'), d_p50)} | "
            f"{ratio(med(s, e + '|p99_ms'), d_p99)} |"
        )
    seed = [f"- {s}: {med(s, 'seed_tags_per_s', True):,.0f} tags/s" for s in ("rreg", "distribution")
            if med(s, "seed_tags_per_s", True) is not None]
    n = meta["runs"]
    title = (f"Browsing a repository of {sub['tags']} tags and a {sub['layers']}-layer image — rreg-server vs "
             f"CNCF distribution {meta.get('distribution_version', '?')}, wrk -t2 -c8 -d{meta.get('secs')}s, "
             f"median of {n} round{'s' if n != '1' else ''} after a warm-up")
    print(title + "\n\n" + "\n".join(rows) + "\n\n" + "\n".join(cmp))

    md = [f"# {title}", "", f"Run on {meta.get('date', '?')} with `bench/browse.sh {meta.get('args', '')}`.".replace(" `.", "`."), ""]
    md += rows + ["", "Peak RSS: VmHWM of the server, reset before each endpoint's wrk run.", ""]
    md += ["Against the closest peer (distribution has no UI or browsing API: its `/v2/…/tags/list` of the same tags):", ""]
    md += cmp + ["", f"Seeding ({sub['tags']} manifest PUTs, 16 at once, `rreg-bench seed`):", *seed, ""]
    md += ["## Machine and versions", ""]
    for k in ("host", "cpu", "nproc", "kernel", "rreg_commit", "rreg_bin", "distribution_version", "wrk_version",
              "loadavg_start", "loadavg_end"):
        if k in meta:
            md.append(f"- {k}: {meta[k]}")
    md += ["", "## Every run", "", "Run 0 is the warm-up, left out of the medians.", ""]
    maxrun = max((r for d in runs.values() for r in d), default=0)
    md += ["| system | figure | " + " | ".join(f"run {r}" for r in range(maxrun + 1)) + " |",
           "|---|---|" + "---:|" * (maxrun + 1)]
    for (s, fig), d in sorted(runs.items()):
        md.append(f"| {s} | {fig} | " + " | ".join(f"{d[r]:.4g}" if r in d else "" for r in range(maxrun + 1)) + " |")
    md += ["", "## Notes", ""]
    for line in meta.get("notes", "").split("\\n"):
        if line:
            md.append(f"- {line}")
    with open(out, "w") as f:
        f.write("\n".join(md) + "\n")


if __name__ == "__main__":
    main()
