#!/usr/bin/python3
"""Prints the markdown table of bench/fetch/run.sh from its sample file: medians per
implementation and corun's ratio to each peer, then the issue's targets.

usage: table.py RESULTS_FILE [CHECK]    (CHECK: "ok", "MISMATCH" or empty)
"""
import statistics
import sys

NAMES = {
    "corun": "`corun fetch`",
    "scraper": "original scraper (aiohttp, asyncio)",
    "scraper-uvloop": "original scraper + uvloop",
    "curl": "`curl --parallel` (no transcoding)",
    "wrk": "wrk (ceiling: no files, no decoding)",
}


def load(path):
    samples, header = {}, ""
    for line in open(path):
        if line.startswith("#"):
            header = line[1:].strip()
            continue
        kv = dict(f.split("=", 1) for f in line.split())
        samples.setdefault(kv["impl"], []).append(kv)
    return samples, header


def medians(samples):
    out = {}
    for impl, rows in samples.items():
        pages = int(rows[0]["pages"])
        secs = statistics.median(float(r["seconds"]) for r in rows)
        out[impl] = {
            "pages": pages,
            "runs": len(rows),
            "seconds": secs,
            "pps": statistics.median(pages / float(r["seconds"]) for r in rows),
            "cpu": statistics.median(float(r["cpu"]) for r in rows),
            "rss": statistics.median(int(r["rss_kb"]) for r in rows) / 1024,
        }
    return out


def main():
    samples, header = load(sys.argv[1])
    check = sys.argv[2] if len(sys.argv) > 2 else ""
    m = medians(samples)
    if not m:
        return
    any_row = next(iter(m.values()))
    print(f"{any_row['pages']:,} pages, {any_row['runs']} runs each, medians ({header})\n")
    c = m.get("corun")
    print("| client | pages/s | wall s | CPU s (user+sys) | peak RSS MiB | corun pages/s vs it | its CPU / corun's | its RSS / corun's |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for impl in ["corun", "scraper", "scraper-uvloop", "curl", "wrk"]:
        if impl not in m:
            continue
        v = m[impl]
        if c and impl != "corun":
            ratios = f"{c['pps'] / v['pps']:.2f}x | {v['cpu'] / c['cpu']:.2f}x | {v['rss'] / c['rss']:.2f}x"
        else:
            ratios = " | | "
        print(f"| {NAMES[impl]} | {v['pps']:,.0f} | {v['seconds']:.2f} | {v['cpu']:.2f} | {v['rss']:.1f} | {ratios} |")
    if not c:
        return
    print()
    targets = []
    if "scraper" in m:
        r = c["pps"] / m["scraper"]["pps"]
        targets.append(f"pages/s >= 8x the original scraper's: {r:.1f}x, {'met' if r >= 8 else 'missed'}")
    if "curl" in m:
        r = c["pps"] / m["curl"]["pps"]
        targets.append(f"pages/s >= 1.5x curl --parallel's: {r:.2f}x, {'met' if r >= 1.5 else 'missed'}")
    if "scraper" in m:
        r = c["rss"] / m["scraper"]["rss"]
        targets.append(f"peak RSS <= 1/4 of the original scraper's: {r:.3f} of it, {'met' if r <= 0.25 else 'missed'}")
    if "wrk" in m:
        targets.append(f"share of the wrk ceiling: {c['pps'] / m['wrk']['pps'] * 100:.0f}%")
    if check:
        targets.append("corun's files equal the original scraper's byte for byte: " +
                       ("yes, every page" if check == "ok" else "NO (see check output)"))
    for t in targets:
        print(f"- {t}")


if __name__ == "__main__":
    main()
