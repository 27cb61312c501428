#!/usr/bin/python3
"""Draws bench/fetch/run.sh's medians as bars: pages/s, CPU seconds and peak RSS per
client, one row of three panels per corpus size found.

usage: plot.py OUT.png RESULTS_FILE...   (Debian's python3-matplotlib)
"""
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from table import load, medians  # noqa: E402

ORDER = ["corun", "scraper", "scraper-uvloop", "curl", "wrk"]
LABELS = {"corun": "corun\nfetch", "scraper": "aiohttp\nscraper", "scraper-uvloop": "scraper\n+uvloop",
          "curl": "curl\n(parallel)", "wrk": "wrk\n(ceiling)"}
COLORS = {"corun": "#d62728", "scraper": "#1f77b4", "scraper-uvloop": "#6baed6", "curl": "#2ca02c", "wrk": "#7f7f7f"}


def main():
    out, files = sys.argv[1], sys.argv[2:]
    sets = []
    for f in files:
        samples, _ = load(f)
        m = medians(samples)
        if m:
            sets.append(m)
    sets.sort(key=lambda m: next(iter(m.values()))["pages"])
    if not sets:
        return
    fig, axes = plt.subplots(len(sets), 3, figsize=(13, 3.8 * len(sets)), squeeze=False)
    panels = [("pps", "pages per second (higher is better)", "{:,.0f}"),
              ("cpu", "CPU seconds, user+sys (lower is better)", "{:.1f}"),
              ("rss", "peak RSS, MiB (lower is better)", "{:.0f}")]
    for row, m in zip(axes, sets):
        pages = next(iter(m.values()))["pages"]
        impls = [i for i in ORDER if i in m]
        for ax, (key, title, fmt) in zip(row, panels):
            vals = [m[i][key] for i in impls]
            bars = ax.bar([LABELS[i] for i in impls], vals, color=[COLORS[i] for i in impls])
            for b, v in zip(bars, vals):
                ax.annotate(fmt.format(v), (b.get_x() + b.get_width() / 2, b.get_height()),
                            ha="center", va="bottom", fontsize=8)
            ax.set_title(f"{title}\n{pages:,} pages, concurrency 64", fontsize=9)
            ax.tick_params(axis="x", labelsize=8)
            ax.margins(y=0.15)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    print(f"plot: {out}")


if __name__ == "__main__":
    main()
