#!/usr/bin/env python3
"""Draws load-test timelines (scripts/loadgen/timeline.py's CSV) as one PNG, a panel per run.

    chart.py OUT.png TITLE PANEL...

Each PANEL is LABEL=CSV or LABEL=CSV@CEILING: committed messages/s per second (left axis, with
the run's ceiling, e.g. the raw COPY's rate, as a dashed line) and the ingest p99 latency per
second (right axis). Operators read a load test as a picture: where the rate dips, what the tail
did then. Needs matplotlib (scripts/loadgen/requirements.txt).
"""
import csv
import math
import sys

import matplotlib

matplotlib.use("Agg")  # no display: write files only
import matplotlib.pyplot as plt  # noqa: E402


def read(path):
    seconds, committed, p99 = [], [], []
    with open(path) as file:
        for row in csv.DictReader(file):
            seconds.append(int(row["second"]))
            committed.append(int(row["committed"]))
            p99.append(float(row["p99_ms"]) if row["p99_ms"] else math.nan)
    return seconds, committed, p99


def main():
    out, title, panels = sys.argv[1], sys.argv[2], sys.argv[3:]
    columns = 1 if len(panels) == 1 else 2
    rows = math.ceil(len(panels) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(7 * columns, 3.2 * rows), squeeze=False)
    for k, panel in enumerate(panels):
        label, _, rest = panel.partition("=")
        path, _, ceiling = rest.partition("@")
        seconds, committed, p99 = read(path)
        axis = axes[k // columns][k % columns]
        axis.plot(seconds, committed, color="tab:blue", label="committed msg/s")
        if ceiling:
            axis.axhline(float(ceiling), color="tab:gray", linestyle="--", label=f"ceiling {float(ceiling):,.0f}/s")
        axis.set_ylim(0, max(committed + [float(ceiling or 0)] + [1]) * 1.1)
        axis.set_xlabel("second")
        axis.set_ylabel("messages/s", color="tab:blue")
        axis.set_title(label, fontsize=10)
        latency = axis.twinx()
        latency.plot(seconds, p99, color="tab:red", linewidth=1, label="p99 ms")
        latency.set_ylim(bottom=0)
        latency.set_ylabel("p99 ms", color="tab:red")
        lines = axis.get_legend_handles_labels()
        more = latency.get_legend_handles_labels()
        axis.legend(lines[0] + more[0], lines[1] + more[1], loc="lower right", fontsize=8)
    for k in range(len(panels), rows * columns):
        axes[k // columns][k % columns].axis("off")
    figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    figure.savefig(out, dpi=90)


if __name__ == "__main__":
    main()
