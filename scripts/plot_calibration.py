#!/usr/bin/env python3
"""Plot of a calibration CSV (from `iommu-sim calibrate`): measured against fitted latency.

    plot_calibration.py calibration.csv [--out DIR] [--format png|svg]

Writes, into DIR (default: the CSV's directory):
  calibration.FMT   mean DMA latency against window size (log2 axis): the measured points, the
                    fitted platform's curve (a model run), the model's default paging-structure
                    caches fitted as well when that column is filled; below it the residual per
                    window and the IOTLB miss rate of the fitted model.
Exit status: 0 done, 2 bad input, 1 failure (as plot_sweep.py).
"""

import csv
import os
import sys

from plot_sweep import number, plot_main  # the plot scripts' shared command line


def load(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    needed = {"window", "measured_ns", "fitted_ns", "residual_ns"}
    if rows and not needed.issubset(rows[0].keys()):
        missing = ", ".join(sorted(needed - set(rows[0].keys())))
        raise ValueError(f"{path}: not a calibration CSV (missing columns: {missing})")
    good = []
    for r in rows:
        w, m, f = number(r["window"]), number(r["measured_ns"]), number(r["fitted_ns"])
        if w is None or m is None or f is None:
            continue
        r["_window"], r["_measured"], r["_fitted"] = w, m, f
        good.append(r)
    return sorted(good, key=lambda r: r["_window"])


def size_label(b):
    for unit, name in ((1 << 30, "G"), (1 << 20, "M"), (1 << 10, "K")):
        if b >= unit:
            v = b / unit
            return f"{v:g}{name}"
    return f"{b:g}"


def plot(plt, rows, out, fmt):
    fig, (ax, axr) = plt.subplots(2, 1, figsize=(7, 6), sharex=True,
                                  gridspec_kw={"height_ratios": [3, 1.4]})
    x = [r["_window"] for r in rows]
    ax.plot(x, [r["_measured"] for r in rows], "o", markersize=5, label="measured")
    ax.plot(x, [r["_fitted"] for r in rows], "-", marker=".", label="fitted (model run)")
    ref = [number(r.get("default_pscache_ns")) for r in rows]
    if all(v is not None for v in ref):
        ax.plot(x, ref, "--", label="default paging-structure caches, fitted")
    ax.set_xscale("log", base=2)
    ax.set_ylabel("mean DMA latency (ns)")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("calibration: measured against fitted")
    axr.axhline(0, color="grey", linewidth=0.8)
    axr.plot(x, [number(r["residual_ns"]) for r in rows], "o-", markersize=3,
             label="residual (ns)")
    axr.set_ylabel("residual (ns)")
    axr.grid(True, alpha=0.3)
    miss = [number(r.get("iotlb_miss_rate")) for r in rows]
    if all(v is not None for v in miss):
        ax2 = axr.twinx()
        ax2.plot(x, miss, ":", color="tab:red", label="IOTLB miss rate")
        ax2.set_ylim(0, 1.05)
        ax2.set_ylabel("IOTLB miss rate", color="tab:red")
    axr.set_xticks(x)
    axr.set_xticklabels([size_label(v) for v in x], fontsize=7, rotation=45)
    axr.set_xlabel("window")
    path = os.path.join(out, f"calibration.{fmt}")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def main(argv):
    return plot_main(argv, "plot_calibration", "Plot of a calibration CSV.", load,
                     lambda plt, rows, out, fmt: [plot(plt, rows, out, fmt)], "has no window to plot")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
