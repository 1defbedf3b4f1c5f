#!/usr/bin/env python3
"""Plots of an IOTLB or device-TLB sweep CSV (from `iommu-sim sweep`, its merge, or its one-pass
mode).

    plot_sweep.py SWEEP.csv [--out DIR] [--format png|svg|both]

Writes, into DIR (default: the CSV's directory), as PNG and SVG unless --format picks one:
  hit_rate_vs_entries.FMT   IOTLB hit rate against entries, one line per associativity
                            (ways 0 = fully associative);
  latency_vs_entries.FMT    mean and p99 DMA latency against entries (grid sweeps only: the
                            one-pass CSV has no latencies); error bars where the p99 is not exact;
  hit_rate_heatmap.FMT      hit rate over ways x sets, each cell with its value.
The same with a devtlb_ prefix for the device-TLBs (ATS): from a device-TLB one-pass CSV
(devtlb_* columns), and from a grid sweep whose points differ in device-TLB geometry.
Rows with a status other than "ok" are left out. Nothing is averaged: when other axes vary (grid
axes other than the cache's geometry, the policy, the set index), every combination of their
values gets figures of its own, named after it (hit_rate_vs_entries_policy-plru.png). Titles
name the platform and workload (from the CSV's .meta.json side file), the policy and the set
index. Exit status: 0 done, 2 bad input, 1 failure.
"""

import argparse
import csv
import json
import os
import re
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
        reader = csv.DictReader(f)
        rows = list(reader)
        header = reader.fieldnames or []
    columns = set(header)
    caches = [c for c in CACHES
              if {f"{c}_sets", f"{c}_ways", f"{c}_entries", CACHES[c]["hit_rate"]} <= columns]
    if rows and not caches:
        raise ValueError(f"{path}: not a sweep CSV (no iotlb_sets, iotlb_ways, iotlb_entries, "
                         "hit_rate columns, nor their devtlb_ counterparts)")
    # A grid sweep's axes are the columns between `point` and `status`.
    axes = header[1:header.index("status")] if header[:1] == ["point"] and "status" in header else []
    return rows, caches, axes


def read_meta(csv_path):
    """The `meta` of the CSV's side file (CSV without .csv + .meta.json); {} when there is none."""
    base = csv_path[:-4] if csv_path.endswith(".csv") else csv_path
    try:
        with open(base + ".meta.json") as f:
            meta = json.load(f).get("meta", {})
        return meta if isinstance(meta, dict) else {}
    except (OSError, ValueError, AttributeError):
        return {}


def is_geometry_axis(key, cache):
    """Whether a grid key sets the geometry of `cache` (those are the plots' own axes)."""
    if cache == "iotlb":
        return key in ("iommu.iotlb.sets", "iommu.iotlb.ways", "iommu.iotlb.entries")
    return key.startswith("pcie.endpoints.") and re.search(r"\.ats\.devtlb\.(sets|ways|entries)$", key)


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
        r["_index"] = source.get(f"{cache}_index") or ("page" if cache == "devtlb" else "")
        good.append(r)
    return good


def facets(rows, cache, axes):
    """Splits rows by every other varying axis: [(values, rows)], values a list of (name, value)
    pairs ([] when nothing else varies). The policy and index columns count as axes when they
    vary and no grid axis already names them."""
    keys = [a for a in axes if not is_geometry_axis(a, cache) and len({r.get(a) for r in rows}) > 1]
    named = " ".join(keys)
    for column, word in ((f"{cache}_policy", "policy"), (f"{cache}_index", "index")):
        if len({r.get(column) for r in rows}) > 1 and word not in named:
            keys.append(column)
    groups = defaultdict(list)
    for r in rows:
        groups[tuple((k, r.get(k, "")) for k in keys)].append(r)
    return [(list(k), v) for k, v in groups.items()]


def facet_suffix(values):
    """_policy-plru_index-page for [("iommu.iotlb.policy", "plru"), ("iotlb_index", "page")]."""
    parts = []
    for key, value in values:
        short = key.rsplit(".", 1)[-1].replace("iotlb_", "").replace("devtlb_", "")
        parts.append(re.sub(r"[^A-Za-z0-9.+-]+", "-", f"{short}-{value}"))
    return "".join("_" + p for p in parts)


def describe(meta, rows, values, cache):
    """The subtitle: platform and workload, then policy, index and the facet's other values."""
    first = []
    if meta.get("platform"):
        first.append(str(meta["platform"]))
    if meta.get("workload"):
        first.append(str(meta["workload"]))
    given = {k.rsplit(".", 1)[-1].replace(f"{cache}_", ""): v for k, v in values}
    second = []
    for word in ("policy", "index"):
        seen = sorted({r[f"_{word}"] for r in rows if r.get(f"_{word}")})
        if word not in given and len(seen) == 1:
            second.append(f"{word} {seen[0]}")
    second += [f"{k}={v}" for k, v in values]
    return "\n".join(line for line in (", ".join(first), ", ".join(second)) if line)


def series_style(i, n, plt):
    """Colour and marker of series i of n: the ten distinct colours while they suffice, then a
    perceptually ordered colour map (series are in order of associativity) with markers that
    tell neighbours apart."""
    markers = "osD^v<>ph*"
    if n <= 10:
        return plt.get_cmap("tab10")(i), "o"
    return plt.get_cmap("viridis")(i / max(1, n - 1)), markers[i % len(markers)]


def way_label(ways):
    return "fully associative" if ways == 0 else f"{ways}-way"


def save(fig, out, name, formats):
    paths = []
    fig.tight_layout()
    for fmt in formats:
        path = os.path.join(out, f"{name}.{fmt}")
        fig.savefig(path, dpi=150)
        paths.append(path)
    return paths


def by_geometry(rows, value):
    """{(ways, entries): value} of rows; identical geometries of one facet (the same point
    repeated) keep their mean."""
    acc = defaultdict(list)
    for r in rows:
        v = value(r)
        if v is not None:
            acc[(r["_ways"], r["_entries"])].append(v)
    return {k: sum(v) / len(v) for k, v in acc.items()}


def plot_hit_rate(plt, rows, out, formats, cache, name, subtitle):
    values = by_geometry(rows, lambda r: r["_hit"])
    ways_list = sorted({w for (w, _) in values}, key=lambda w: (w == 0, w))
    fig, ax = plt.subplots(figsize=(8, 5))
    for i, ways in enumerate(ways_list):
        pts = sorted((e, v) for (w, e), v in values.items() if w == ways)
        colour, marker = series_style(i, len(ways_list), plt)
        # Fully associative is the bound the others approach: black and dashed, apart.
        if ways == 0:
            colour, marker = "black", "x"
        ax.plot([e for e, _ in pts], [v for _, v in pts], "--" if ways == 0 else "-", marker=marker,
                markersize=4, color=colour, label=way_label(ways))
    cname = CACHES[cache]["name"]
    ax.set_xscale("log", base=2)
    ax.set_xlabel(f"{cname} entries" + (" (each function's)" if cache == "devtlb" else ""))
    ax.set_ylabel("hit rate")
    ax.set_ylim(0, 1.02)
    ax.grid(True, alpha=0.3)
    ax.set_title(f"{cname} hit rate\n{subtitle}" if subtitle else f"{cname} hit rate", fontsize=10)
    ax.legend(fontsize=7, ncol=1 if len(ways_list) <= 10 else 2, loc="center left",
              bbox_to_anchor=(1.01, 0.5), title="associativity", title_fontsize=7)
    paths = save(fig, out, name, formats)
    plt.close(fig)
    return paths


def plot_latency(plt, rows, out, formats, cache, name, subtitle):
    if not rows or "latency_mean_ns" not in rows[0]:
        return []
    mean = by_geometry(rows, lambda r: number(r.get("latency_mean_ns")))
    p99 = by_geometry(rows, lambda r: number(r.get("latency_p99_ns")))
    p99_error = by_geometry(rows, lambda r: number(r.get("latency_p99_error_ns")))
    if not mean and not p99:
        return []
    ways_list = sorted({w for (w, _) in list(mean) + list(p99)}, key=lambda w: (w == 0, w))
    fig, ax = plt.subplots(figsize=(8, 5))
    inexact = False
    for i, ways in enumerate(ways_list):
        colour, marker = series_style(i, len(ways_list), plt)
        pts = sorted((e, v) for (w, e), v in mean.items() if w == ways)
        if pts:
            ax.plot([e for e, _ in pts], [v for _, v in pts], "-", marker=marker, markersize=4,
                    color=colour, label=f"{way_label(ways)} mean")
        pts = sorted((e, v) for (w, e), v in p99.items() if w == ways)
        if pts:
            errors = [p99_error.get((ways, e)) or 0 for e, _ in pts]
            inexact = inexact or any(err > 0 for err in errors)
            ax.errorbar([e for e, _ in pts], [v for _, v in pts], yerr=errors, fmt="--",
                        marker=marker, markersize=4, color=colour, capsize=2,
                        label=f"{way_label(ways)} p99")
    ax.set_xscale("log", base=2)
    ax.set_xlabel(f"{CACHES[cache]['name']} entries")
    ax.set_ylabel("DMA latency (ns)")
    ax.grid(True, alpha=0.3)
    note = "p99 exact" if not inexact else "error bars: where the true p99 may lie (histogram resolution)"
    title = "DMA latency: mean (solid) and p99 (dashed), " + note
    ax.set_title(f"{title}\n{subtitle}" if subtitle else title, fontsize=10)
    ax.legend(fontsize=7, ncol=1 if len(ways_list) <= 5 else 2, loc="center left",
              bbox_to_anchor=(1.01, 0.5))
    paths = save(fig, out, name, formats)
    plt.close(fig)
    return paths


def plot_heatmap(plt, rows, out, formats, cache, name, subtitle):
    values = {}
    acc = defaultdict(list)
    for r in rows:
        if r["_ways"] > 0:
            acc[(r["_ways"], r["_sets"])].append(r["_hit"])
    values = {k: sum(v) / len(v) for k, v in acc.items()}
    if not values:
        return []
    ways = sorted({w for (w, _) in values})
    sets = sorted({s for (_, s) in values})
    grid = [[values.get((w, s), float("nan")) for s in sets] for w in ways]
    # Large enough that every cell holds its value legibly.
    fig, ax = plt.subplots(figsize=(max(6.0, 2.5 + 0.62 * len(sets)), max(4.0, 2.0 + 0.34 * len(ways))))
    im = ax.imshow(grid, origin="lower", aspect="auto", vmin=0, vmax=1, cmap="viridis")
    ax.set_xticks(range(len(sets)))
    ax.set_xticklabels([str(s) for s in sets], fontsize=8)
    ax.set_yticks(range(len(ways)))
    ax.set_yticklabels([str(w) for w in ways], fontsize=8)
    ax.set_xlabel("sets")
    ax.set_ylabel("ways")
    for i, row in enumerate(grid):
        for j, v in enumerate(row):
            if v == v:  # not NaN
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=9 if len(sets) * len(ways) <= 60 else 7,
                        color="white" if v < 0.6 else "black")
    fig.colorbar(im, ax=ax, label="hit rate")
    title = f"{CACHES[cache]['name']} hit rate by sets x ways"
    ax.set_title(f"{title}\n{subtitle}" if subtitle else title, fontsize=10)
    paths = save(fig, out, name, formats)
    plt.close(fig)
    return paths


def plot_main(argv, name, description, load_csv, plot_all, nothing):
    """The command line every plot script shares: CSV [--out DIR] [--format png|svg|both]; Agg
    backend; exit 0 done (or nothing to plot), 2 bad input, 1 no matplotlib. plot_all(plt, rows,
    out, fmt) returns the paths written (None for a plot left out), once per format; `nothing`
    says why an empty CSV gives no plot."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("csv")
    parser.add_argument("--out", help="directory for the plots (default: the CSV's)")
    parser.add_argument("--format", choices=["png", "svg", "both"], default="both")
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return 0 if e.code == 0 else 2
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        plt.rcParams["svg.fonttype"] = "none"  # SVG text stays text: searchable, editable
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
    formats = ["png", "svg"] if args.format == "both" else [args.format]
    for fmt in formats:
        for path in plot_all(plt, rows, out, fmt):
            if path:
                print(f"plot: {path}")
    return 0


def load_sweep(path):
    """The CSV's caches that have something to plot, as (cache, rows, axes, meta) tuples."""
    all_rows, caches, axes = read_rows(path)
    meta = read_meta(path)
    groups = []
    for cache in caches:
        rows = load(all_rows, cache)
        # A grid that keeps the device-TLBs' geometry fixed has nothing to say about them.
        if cache == "devtlb" and "iotlb" in caches and len({r["_entries"] for r in rows}) < 2:
            continue
        if rows:
            groups.append((cache, rows, axes, meta))
    return groups


def plot_sweep(plt, groups, out, fmt):
    written = []
    for cache, rows, axes, meta in groups:
        prefix = CACHES[cache]["files"]
        for values, sub in facets(rows, cache, axes):
            subtitle = describe(meta, sub, values, cache)
            suffix = facet_suffix(values)
            written += plot_hit_rate(plt, sub, out, [fmt], cache, f"{prefix}hit_rate_vs_entries{suffix}", subtitle)
            written += plot_latency(plt, sub, out, [fmt], cache, f"{prefix}latency_vs_entries{suffix}", subtitle)
            written += plot_heatmap(plt, sub, out, [fmt], cache, f"{prefix}hit_rate_heatmap{suffix}", subtitle)
    return written


def main(argv):
    return plot_main(argv, "plot_sweep", "Plots of an IOTLB or device-TLB sweep CSV.", load_sweep,
                     plot_sweep, "has no successful point with a cache geometry: nothing to plot")


def system_python_if_needed():
    """Run by hand with a python3 that has no matplotlib (a private one first in PATH), go on
    with the system's, where python3-matplotlib installs: what the sweep does too."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        system = "/usr/bin/python3"
        if os.path.realpath(sys.executable) != os.path.realpath(system) and os.access(system, os.X_OK):
            os.execv(system, [system] + sys.argv)


if __name__ == "__main__":
    system_python_if_needed()
    sys.exit(main(sys.argv[1:]))
