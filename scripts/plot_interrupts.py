#!/usr/bin/env python3
"""Plots of an interrupt-delivery study CSV (`iommu-sim study yaml/studies/interrupts.yaml`).

    plot_interrupts.py interrupts.csv [--out DIR] [--format png|svg]

Writes, into DIR (default: the CSV's directory), one panel per vCPU scheduling in each:
  exits_vs_rate.FMT       VM exits per 1,000 interrupts against the interrupt rate, per mode;
  exit_causes.FMT         the exits per 1,000 interrupts at the highest rate, stacked by cause
                          (arrival, EOI, host interrupt, wake-up), one bar per mode;
  latency_vs_rate.FMT     interrupt latency p99 (solid) and p50 (dashed) against the rate;
  hypervisor_vs_rate.FMT  host CPU time in the hypervisor per guest, % of a CPU, against the rate.
Rows whose status is not "ok" are left out. Exit status: 0 done, 2 bad input, 1 failure.
"""

import argparse
import csv
import os
import sys

CAUSES = [("arrival_per_1000", "arrival"), ("eoi_per_1000", "EOI"),
          ("host_per_1000", "host interrupt"), ("wakeup_per_1000", "wake-up")]
NEEDED = {"mode", "rate", "scheduling", "status", "interrupts_per_s_per_guest", "exits_per_1000",
          "latency_p50_us", "latency_p99_us", "hypervisor_cpu_percent"} | {c for c, _ in CAUSES}


def number(text):
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def ordered(values):
    """Distinct values in order of first appearance (the study's order)."""
    seen = []
    for v in values:
        if v not in seen:
            seen.append(v)
    return seen


def load(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if rows and not NEEDED.issubset(rows[0].keys()):
        missing = ", ".join(sorted(NEEDED - set(rows[0].keys())))
        raise ValueError(f"{path}: not an interrupt study CSV (missing columns: {missing})")
    return [r for r in rows if r["status"] == "ok"]


def panels(plt, schedules, title):
    n = len(schedules)
    cols = min(n, 2)
    nrows = (n + cols - 1) // cols
    fig, axes = plt.subplots(nrows, cols, figsize=(6.5 * cols, 4.2 * nrows), squeeze=False)
    fig.suptitle(title)
    flat = [ax for row in axes for ax in row]
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, dict(zip(schedules, flat))


def line_plot(plt, rows, modes, schedules, column, ylabel, title, path, second=None):
    fig, ax_of = panels(plt, schedules, title)
    for sched, ax in ax_of.items():
        for mode in modes:
            pts = sorted((number(r["interrupts_per_s_per_guest"]), number(r[column]), r)
                         for r in rows if r["scheduling"] == sched and r["mode"] == mode)
            pts = [p for p in pts if p[0] is not None and p[1] is not None]
            if not pts:
                continue
            line, = ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", markersize=3,
                            label=mode)
            if second:
                ax.plot([p[0] for p in pts], [number(p[2][second]) for p in pts], linestyle="--",
                        color=line.get_color(), linewidth=0.8)
        ax.set_title(sched)
        ax.set_xscale("log")
        ax.set_xlabel("interrupts per second per guest")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def causes_plot(plt, rows, modes, schedules, path):
    rates = ordered(r["rate"] for r in rows)
    top = rates[-1]
    fig, ax_of = panels(plt, schedules, f"VM exits per 1,000 interrupts by cause, rate {top}")
    for sched, ax in ax_of.items():
        bottom = [0.0] * len(modes)
        for column, label in CAUSES:
            heights = []
            for mode in modes:
                match = [r for r in rows if r["scheduling"] == sched and r["mode"] == mode
                         and r["rate"] == top]
                heights.append(number(match[0][column]) or 0.0 if match else 0.0)
            ax.bar(range(len(modes)), heights, bottom=bottom, label=label)
            bottom = [b + h for b, h in zip(bottom, heights)]
        ax.set_title(sched)
        ax.set_xticks(range(len(modes)))
        ax.set_xticklabels(modes, rotation=20, fontsize=8)
        ax.set_ylabel("exits per 1,000 interrupts")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("csv")
    parser.add_argument("--out", default=None)
    parser.add_argument("--format", default="png", choices=["png", "svg"])
    args = parser.parse_args()
    try:
        rows = load(args.csv)
    except (OSError, ValueError) as e:
        print(f"plot_interrupts: {e}", file=sys.stderr)
        return 2
    if not rows:
        print("plot_interrupts: no successful points to plot", file=sys.stderr)
        return 2
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot_interrupts: matplotlib is not installed (Debian: python3-matplotlib)",
              file=sys.stderr)
        return 1
    out = args.out or os.path.dirname(os.path.abspath(args.csv))
    os.makedirs(out, exist_ok=True)
    modes = ordered(r["mode"] for r in rows)
    schedules = ordered(r["scheduling"] for r in rows)
    written = []

    def target(name):
        path = os.path.join(out, f"{name}.{args.format}")
        written.append(path)
        return path

    line_plot(plt, rows, modes, schedules, "exits_per_1000", "VM exits per 1,000 interrupts",
              "VM exits per 1,000 interrupts (all causes)", target("exits_vs_rate"))
    causes_plot(plt, rows, modes, schedules, target("exit_causes"))
    line_plot(plt, rows, modes, schedules, "latency_p99_us", "latency (us), p99 solid, p50 dashed",
              "Interrupt latency, device MSI write to the guest's handler",
              target("latency_vs_rate"), second="latency_p50_us")
    line_plot(plt, rows, modes, schedules, "hypervisor_cpu_percent", "% of a CPU per guest",
              "Host CPU time in the hypervisor on the guests' behalf", target("hypervisor_vs_rate"))
    for path in written:
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
