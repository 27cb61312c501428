#!/usr/bin/python3
"""Draws bench/crawl/results.png from bench/crawl/run.sh's sample file: pages/s
(median) per client, one group of bars per server variant and host count, with
each client's connections opened written over its bar.

usage: plot.py RESULTS_FILE OUT_PNG
"""
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from table import ORDER, load, summary  # noqa: E402


def main():
    groups, header = load(sys.argv[1])
    keys = sorted(groups, key=lambda k: (k[0], k[1]))
    impls = [i for i in ORDER if any(i in groups[k] for k in keys)]
    width = 0.8 / max(len(impls), 1)
    fig, ax = plt.subplots(figsize=(max(6, 2.2 * len(keys)), 4.5))
    for j, impl in enumerate(impls):
        xs, ys, conns = [], [], []
        for i, k in enumerate(keys):
            if impl in groups[k]:
                s = summary(groups[k][impl])
                xs.append(i + (j - (len(impls) - 1) / 2) * width)
                ys.append(s["pps"])
                conns.append(s["conns"])
        bars = ax.bar(xs, ys, width, label=impl)
        for b, n in zip(bars, conns):
            ax.annotate(f"{n:.0f}", (b.get_x() + b.get_width() / 2, b.get_height()),
                        ha="center", va="bottom", fontsize=6, rotation=90)
    ax.set_xticks(range(len(keys)))
    ax.set_xticklabels([f"{s}\n{h} host{'s' if h != 1 else ''}" for s, h in keys])
    ax.set_ylabel("pages/s (median; higher is better)")
    ax.set_title("HTTPS crawl, concurrency 64 (numbers: connections opened)", fontsize=10)
    ax.legend(fontsize=8)
    fig.text(0.01, 0.01, header, fontsize=6)
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(sys.argv[2], dpi=110)


if __name__ == "__main__":
    main()
