#!/usr/bin/python3
"""Prints the markdown tables of bench/crawl/run.sh from its sample file: per server
variant and host count, medians per client, corun's ratio to each, then the issue's
targets (1.5x the fastest peer's pages/s, a quarter of the scraper's peak RSS, at
most hosts + concurrency connections; the scraper on corun.ClientSession 3x the
same scraper on aiohttp).

usage: table.py RESULTS_FILE
"""
import statistics
import sys

ORDER = ["corun", "curl", "wget2", "aria2c", "scraper", "pyscraper"]
NAMES = {
    "corun": "`corun fetch`",
    "curl": "`curl --parallel --parallel-max 64`",
    "wget2": "`wget2 --max-threads=64`",
    "aria2c": "`aria2c -j 64`",
    "scraper": "original scraper (aiohttp)",
    "pyscraper": "the scraper on `corun.ClientSession`",
}


def load(path):
    groups, header = {}, ""
    for line in open(path):
        if line.startswith("#"):
            header = line[1:].strip()
            continue
        kv = dict(f.split("=", 1) for f in line.split())
        key = (kv["server"], int(kv["hosts"]))
        groups.setdefault(key, {}).setdefault(kv["impl"], []).append(kv)
    return groups, header


def med(rows, key, conv=float):
    return statistics.median(conv(r[key]) for r in rows)


def summary(rows):
    pages = int(rows[0]["pages"])
    return {
        "pages": pages,
        "runs": len(rows),
        "pps": statistics.median(pages / float(r["seconds"]) for r in rows),
        "seconds": med(rows, "seconds"),
        "cpu": med(rows, "cpu"),
        "rss": med(rows, "rss_kb", int) / 1024,
        "conns": med(rows, "conns", int),
        "resumed": med(rows, "resumed", int),
        # nginx's CPU during the client's runs (samples before sitting 12 lack it)
        "server_cpu": med(rows, "server_cpu") if all("server_cpu" in r for r in rows) else None,
    }


def main():
    groups, header = load(sys.argv[1])
    conc, cores = 64, None
    for part in header.split(","):
        if part.strip().startswith("conc "):
            conc = int(part.split()[1])
        words = part.split()
        if "cores" in words:
            cores = int(words[words.index("cores") - 1])
    print(f"({header})\n")
    for (server, hosts) in sorted(groups, key=lambda k: (k[0], k[1])):
        m = {impl: summary(rows) for impl, rows in groups[(server, hosts)].items()}
        any_row = next(iter(m.values()))
        print(f"**{server}, {hosts} host{'s' if hosts != 1 else ''}**: {any_row['pages']:,} pages, "
              f"{any_row['runs']} runs each, medians\n")
        print("| client | pages/s | wall s | CPU s | nginx CPU s | peak RSS MiB | connections | resumed | corun is |")
        print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        c = m.get("corun")
        for impl in ORDER:
            if impl not in m:
                continue
            v = m[impl]
            ratio = f"{c['pps'] / v['pps']:.2f}x" if c else ""
            server = "" if v["server_cpu"] is None else f"{v['server_cpu']:.2f}"
            print(f"| {NAMES[impl]} | {v['pps']:,.0f} | {v['seconds']:.2f} | {v['cpu']:.2f} | {server} | "
                  f"{v['rss']:.1f} | {v['conns']:,.0f} | {v['resumed']:,.0f} | {ratio} |")
        if c:
            peers = [v["pps"] for k, v in m.items() if k not in ("corun", "pyscraper")]
            notes = []
            if peers:
                best = max(peers)
                notes.append(f"pages/s vs the fastest peer {c['pps'] / best:.2f}x (target 1.5x)")
            if "scraper" in m:
                notes.append(f"peak RSS {c['rss'] / m['scraper']['rss']:.2f} of the scraper's (target <= 0.25)")
            notes.append(f"connections {c['conns']:.0f} vs hosts + -c = {hosts + conc}")
            if cores and c["server_cpu"] is not None:
                # Client and server share the machine: no run of this client can take
                # less wall time than their CPU time spread over every core.
                floor = (c["cpu"] + c["server_cpu"]) / cores
                notes.append(f"corun's CPU and nginx's over {cores} cores: {floor:.2f} s at the least "
                             f"({c['pages'] / floor:,.0f} pages/s)")
            print("\n" + "; ".join(notes) + ".\n")
        if "pyscraper" in m and "scraper" in m:
            p, a = m["pyscraper"], m["scraper"]
            print(f"The scraper on corun.ClientSession: {p['pps'] / a['pps']:.2f}x the pages/s of the "
                  f"same scraper on aiohttp (target 3x), {p['rss'] / a['rss']:.2f} of its peak RSS.\n")


if __name__ == "__main__":
    main()
