#!/usr/bin/env python3
"""Plots of an IOTLB or device-TLB sweep CSV (from `iommu-sim sweep`, its merge, or its one-pass
mode).

    plot_sweep.py SWEEP.csv [--out DIR] [--format png|svg]

Writes, into DIR (default: the CSV's directory):
  hit_rate_vs_entries.FMT   IOTLB hit rate against entries, one line per associativity
                            (ways 0 = fully associative), one per policy when several;
  latency_vs_entries.FMT    mean and p99 DMA latency against entries (grid sweeps only: the
                            one-pass CSV has no latencies);
  hit_rate_heatmap.FMT      hit rate over ways x sets (one file per policy when several:
                            hit_rate_heatmap_POLICY.FMT).
The same with a devtlb_ prefix for the device-TLBs (ATS): from a device-TLB one-pass CSV
(devtlb_* columns), and from a grid sweep whose points differ in device-TLB geometry.
Rows with a status other than "ok" are left out. When other grid axes vary too, points of the
same geometry are averaged, and the titles say so. Exit status: 0 done, 2 bad input, 1 failure.
"""

import argparse
import csv
import os
import sys
from collections import defaultdict


def number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


# The caches a CSV can describe: its column prefix, the hit-rate column, the name in titles and
# the prefix of the plot files.
CACHES = {
    "iotlb": {"hit_rate": "hit_rate", "name": "IOTLB", "files": ""},
    "devtlb": {"hit_rate": "devtlb_hit_rate", "name": "device-TLB", "files": "devtlb_"},
}


def read_rows(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    columns = set(rows[0].keys()) if rows else set()
    caches = [c for c in CACHES
              if {f"{c}_sets", f"{c}_ways", f"{c}_entries", CACHES[c]["hit_rate"]} <= columns]
    if rows and not caches:
        raise ValueError(f"{path}: not a sweep CSV (no iotlb_sets, iotlb_ways, iotlb_entries, "
                         "hit_rate columns, nor their devtlb_ counterparts)")
    return rows, caches


def load(rows, cache):
    """The successful rows with a geometry of `cache`, each annotated with it (and "_hit")."""
    good = []
    for source in rows:
        if source.get("status", "ok") != "ok":
            continue
        sets, ways, entries = (number(source.get(f"{cache}_sets")),
                               number(source.get(f"{cache}_ways")),
                               number(source.get(f"{cache}_entries")))
        hit = number(source.get(CACHES[cache]["hit_rate"]))
        if sets is None or ways is None or entries is None or hit is None:
            continue
        r = dict(source)
        r["_sets"], r["_ways"], r["_entries"], r["_hit"] = int(sets), int(ways), int(entries), hit
        r["_policy"] = source.get(f"{cache}_policy") or "lru"
        good.append(r)
    return good


def averaged(rows, key, value):
    """{key(row): mean of value(row)} over rows where value is a number; and whether any key
    had more than one row (other axes varied)."""
    acc = defaultdict(list)
    for r in rows:
        v = value(r)
        if v is not None:
            acc[key(r)].append(v)
    merged = any(len(v) > 1 for v in acc.values())
    return {k: sum(v) / len(v) for k, v in acc.items()}, merged


def way_label(ways):
    return "fully associative" if ways == 0 else f"{ways}-way"


def plot_hit_rate(plt, rows, out, fmt, policies, cache):
    fig, ax = plt.subplots(figsize=(7, 4.5))
    means, merged = averaged(rows, lambda r: (r["_policy"], r["_ways"], r["_entries"]),
                             lambda r: r["_hit"])
    groups = sorted({(p, w) for (p, w, _) in means})
    for policy, ways in groups:
        pts = sorted((e, v) for (p, w, e), v in means.items() if p == policy and w == ways)
        label = way_label(ways) + (f" {policy}" if len(policies) > 1 else "")
        ax.plot([e for e, _ in pts], [v for _, v in pts], marker="o", markersize=3, label=label)
    name = CACHES[cache]["name"]
    ax.set_xscale("log", base=2)
    ax.set_xlabel(f"{name} entries" + (" (each function's)" if cache == "devtlb" else ""))
    ax.set_ylabel("hit rate")
    ax.set_ylim(0, 1.02)
    ax.grid(True, alpha=0.3)
    ax.set_title(f"{name} hit rate" + (" (mean over other axes)" if merged else ""))
    ax.legend(fontsize=7, ncol=2)
    path = os.path.join(out, f"{CACHES[cache]['files']}hit_rate_vs_entries.{fmt}")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_latency(plt, rows, out, fmt, cache):
    if not rows or "latency_mean_ns" not in rows[0]:
        return None
    fig, ax = plt.subplots(figsize=(7, 4.5))
    drew = False
    merged_any = False
    for column, style in (("latency_mean_ns", "-"), ("latency_p99_ns", "--")):
        means, merged = averaged(rows, lambda r: (r["_ways"], r["_entries"]),
                                 lambda r, c=column: number(r.get(c)))
        merged_any = merged_any or merged
        for ways in sorted({w for (w, _) in means}):
            pts = sorted((e, v) for (w, e), v in means.items() if w == ways)
            what = "mean" if column == "latency_mean_ns" else "p99"
            ax.plot([e for e, _ in pts], [v for _, v in pts], style, marker="o", markersize=3,
                    label=f"{way_label(ways)} {what}")
            drew = True
    if not drew:
        plt.close(fig)
        return None
    ax.set_xscale("log", base=2)
    ax.set_xlabel(f"{CACHES[cache]['name']} entries")
    ax.set_ylabel("DMA latency (ns)")
    ax.grid(True, alpha=0.3)
    ax.set_title("DMA latency" + (" (mean over other axes)" if merged_any else ""))
    ax.legend(fontsize=7, ncol=2)
    path = os.path.join(out, f"{CACHES[cache]['files']}latency_vs_entries.{fmt}")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_heatmaps(plt, rows, out, fmt, policies, cache):
    paths = []
    for policy in policies:
        sub = [r for r in rows if r["_policy"] == policy and r["_ways"] > 0]
        means, merged = averaged(sub, lambda r: (r["_ways"], r["_sets"]), lambda r: r["_hit"])
        if not means:
            continue
        ways = sorted({w for (w, _) in means})
        sets = sorted({s for (_, s) in means})
        grid = [[means.get((w, s), float("nan")) for s in sets] for w in ways]
        fig, ax = plt.subplots(figsize=(1.2 + 0.55 * len(sets), 1.2 + 0.4 * len(ways)))
        im = ax.imshow(grid, origin="lower", aspect="auto", vmin=0, vmax=1, cmap="viridis")
        ax.set_xticks(range(len(sets)))
        ax.set_xticklabels([str(s) for s in sets], fontsize=7)
        ax.set_yticks(range(len(ways)))
        ax.set_yticklabels([str(w) for w in ways], fontsize=7)
        ax.set_xlabel("sets")
        ax.set_ylabel("ways")
        if len(sets) * len(ways) <= 200:
            for i, row in enumerate(grid):
                for j, v in enumerate(row):
                    if v == v:  # not NaN
                        ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6,
                                color="white" if v < 0.6 else "black")
        fig.colorbar(im, ax=ax, label="hit rate")
        ax.set_title(f"{CACHES[cache]['name']} hit rate, {policy}" +
                     (" (mean over other axes)" if merged else ""), fontsize=9)
        name = (CACHES[cache]["files"] + "hit_rate_heatmap" +
                (f"_{policy}" if len(policies) > 1 else ""))
        path = os.path.join(out, f"{name}.{fmt}")
        fig.tight_layout()
        fig.savefig(path)
        plt.close(fig)
        paths.append(path)
    return paths


def plot_main(argv, name, description, load_csv, plot_all, nothing):
    """The command line every plot script shares: CSV [--out DIR] [--format png|svg]; Agg
    backend; exit 0 done (or nothing to plot), 2 bad input, 1 no matplotlib. plot_all(plt, rows,
    out, fmt) returns the paths written (None for a plot left out); `nothing` says why an empty
    CSV gives no plot."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("csv")
    parser.add_argument("--out", help="directory for the plots (default: the CSV's)")
    parser.add_argument("--format", choices=["png", "svg"], default="png")
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return 0 if e.code == 0 else 2
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"{name}: matplotlib is not installed (Debian: apt-get install "
              "python3-matplotlib)", file=sys.stderr)
        return 1
    out = args.out or os.path.dirname(os.path.abspath(args.csv))
    try:
        rows = load_csv(args.csv)
    except (OSError, ValueError) as e:
        print(f"{name}: {e}", file=sys.stderr)
        return 2
    if not rows:
        print(f"{name}: {args.csv} {nothing}", file=sys.stderr)
        return 0
    os.makedirs(out, exist_ok=True)
    for path in plot_all(plt, rows, out, args.format):
        if path:
            print(f"plot: {path}")
    return 0


def load_sweep(path):
    """The CSV's caches that have something to plot, as (cache, rows) pairs."""
    all_rows, caches = read_rows(path)
    groups = []
    for cache in caches:
        rows = load(all_rows, cache)
        # A grid that keeps the device-TLBs' geometry fixed has nothing to say about them.
        if cache == "devtlb" and "iotlb" in caches and len({r["_entries"] for r in rows}) < 2:
            continue
        if rows:
            groups.append((cache, rows))
    return groups


def plot_sweep(plt, groups, out, fmt):
    written = []
    for cache, rows in groups:
        policies = sorted({r["_policy"] for r in rows})
        written.append(plot_hit_rate(plt, rows, out, fmt, policies, cache))
        written.append(plot_latency(plt, rows, out, fmt, cache))
        written.extend(plot_heatmaps(plt, rows, out, fmt, policies, cache))
    return written


def main(argv):
    return plot_main(argv, "plot_sweep", "Plots of an IOTLB or device-TLB sweep CSV.", load_sweep,
                     plot_sweep, "has no successful point with a cache geometry: nothing to plot")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
