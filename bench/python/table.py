#!/usr/bin/python3
"""Markdown table of bench/python/run.sh samples: median wall time per implementation,
pages/s, CPU, peak RSS, and the ratio of pages/s to the original aiohttp scraper's.

usage: table.py SAMPLES_FILE
"""
import collections
import statistics
import sys

LABELS = {
    "scraper": "original aiohttp scraper (asyncio)",
    "scraper-uvloop": "original aiohttp scraper (uvloop)",
    "corun-fetch": "`await corun.fetch(...)` (asyncio)",
    "corun-fetch-uvloop": "`await corun.fetch(...)` (uvloop)",
    "corun-session": "scraper on `corun.ClientSession` (asyncio)",
    "corun-cli": "`corun fetch` executable (no Python)",
}


def main():
    runs = collections.defaultdict(list)
    pages = None
    for line in open(sys.argv[1]):
        if line.startswith("#") or not line.strip():
            continue
        fields = dict(kv.split("=", 1) for kv in line.split())
        pages = int(fields["pages"])
        runs[fields["impl"]].append(fields)
    med = {}
    for impl, samples in runs.items():
        med[impl] = {k: statistics.median(float(s[k]) for s in samples)
                     for k in ("seconds", "cpu", "rss_kb")}
        med[impl]["n"] = len(samples)
    base = pages / med["scraper"]["seconds"] if "scraper" in med else None
    print(f"| {pages} pages | runs | wall s (median) | pages/s | CPU s | peak RSS MiB | pages/s vs scraper |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for impl in LABELS:
        if impl not in med:
            continue
        m = med[impl]
        rate = pages / m["seconds"]
        ratio = f"{rate / base:.1f}x" if base else "-"
        print(f"| {LABELS[impl]} | {m['n']} | {m['seconds']:.2f} | {rate:,.0f} | {m['cpu']:.2f} "
              f"| {m['rss_kb'] / 1024:.0f} | {ratio} |")


if __name__ == "__main__":
    main()
