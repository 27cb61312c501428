#!/usr/bin/env python3
"""Paired before/after timing of two commands, for telling a change's effect
from this machine's noise (bench/README.md, "Sitting 11"): any benchmark, where
bench/fetch/ab.sh is corun fetch's job only.

    bench/pair.py [--rounds N] -- BEFORE-COMMAND... -- AFTER-COMMAND...

Each round runs both commands once, in turn (which goes first alternates), and
reads each one's wall time and CPU time (user + sys of the process and its
children, from wait4). The first round is dropped (cold caches). Prints the
medians, the median of the per-round after/before ratios, their range, in how
many rounds the after command used more, and a two-sided sign test.
"""

import argparse
import math
import os
import statistics
import subprocess
import sys
import time


def run(command):
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"pair.py: {' '.join(command)} exited with {code}")
    return wall, usage.ru_utime + usage.ru_stime


def sign_test(more, n):
    """Two-sided p of `more` or a count as far from n/2 under a fair coin."""
    if n == 0:
        return 1.0
    k = min(more, n - more)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2**n
    return min(1.0, 2 * tail)


def main():
    argv = sys.argv[1:]
    if argv.count("--") != 2:
        sys.exit("usage: bench/pair.py [--rounds N] -- BEFORE... -- AFTER...")
    first = argv.index("--")
    second = argv.index("--", first + 1)
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args(argv[:first])
    before, after = argv[first + 1:second], argv[second + 1:]
    rows = []
    for r in range(args.rounds):
        if r % 2 == 0:
            b, a = run(before), run(after)
        else:
            a, b = run(after), run(before)
        print(f"round {r + 1}/{args.rounds}: before {b[0]:.3f} s wall {b[1]:.3f} s CPU, "
              f"after {a[0]:.3f} s wall {a[1]:.3f} s CPU", file=sys.stderr)
        if r > 0:
            rows.append((b, a))
    n = len(rows)
    print(f"{n} rounds (the first of {args.rounds} dropped); medians")
    print()
    print("| measure | before | after | median after/before | range | after more in | "
          "sign test p |")
    print("|---|---:|---:|---:|---|---:|---:|")
    for i, name in enumerate(("wall s", "CPU s")):
        ratios = [a[i] / b[i] for b, a in rows if b[i] > 0]
        more = sum(1 for b, a in rows if a[i] > b[i])
        print(f"| {name} | {statistics.median(b[i] for b, _ in rows):.3f} | "
              f"{statistics.median(a[i] for _, a in rows):.3f} | "
              f"{statistics.median(ratios):.3f} | {min(ratios):.3f}-{max(ratios):.3f} | "
              f"{more} of {n} | {sign_test(more, n):.2f} |")


if __name__ == "__main__":
    main()
