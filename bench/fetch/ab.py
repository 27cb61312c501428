"""The rounds and the statistics of bench/fetch/ab.sh (which starts nginx and
passes the URL list): runs `corun fetch` for every executable in turn, ROUNDS
times, timing each run with os.wait4 (microseconds of user and system time,
where /usr/bin/time prints hundredths), and prints medians and paired ratios."""

import argparse
import math
import os
import shlex
import shutil
import statistics
import sys
import time


def run_once(exe, urls, out, conc, extra):
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    argv = [exe, "fetch", "-q", "-c", str(conc), "--per-host", str(conc), "-i", urls,
            "--out", out, "--report", out + ".report.jsonl"] + extra
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
        try:
            os.execv(exe, argv)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    wall = time.monotonic() - start
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        sys.exit(f"ab.py: {' '.join(argv)} exited with {code}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime, "user": usage.ru_utime,
            "sys": usage.ru_stime, "rss_mib": usage.ru_maxrss / 1024, "minflt": usage.ru_minflt}


def sign_test(more, n):
    """Two-sided p of `more` of n pairs going one way when either way is as likely."""
    k = max(more, n - more)
    tail = sum(math.comb(n, i) for i in range(k, n + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--urls", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--rounds", type=int, default=20)
    ap.add_argument("--conc", type=int, default=64)
    ap.add_argument("--extra", default="")
    ap.add_argument("exes", nargs="+")
    a = ap.parse_args()
    if a.rounds < 2:
        sys.exit("ab.py: at least 2 rounds (the first is dropped)")
    extra = shlex.split(a.extra)
    rounds = []
    for r in range(a.rounds):
        row = [run_once(exe, a.urls, os.path.join(a.out, str(i)), a.conc, extra)
               for i, exe in enumerate(a.exes)]
        rounds.append(row)
        print(f"round {r + 1}/{a.rounds}: " + "  ".join(
            f"[{i}] {m['wall']:.3f} s wall {m['cpu']:.3f} s CPU" for i, m in enumerate(row)),
            file=sys.stderr)
    shutil.rmtree(a.out, ignore_errors=True)
    kept = rounds[1:]
    n = len(kept)
    print(f"{n} rounds (the first of {a.rounds} dropped); medians; [0] is the reference\n")
    print("| | executable | wall s | CPU s | user s | sys s | peak RSS MiB | minor faults |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    for i, exe in enumerate(a.exes):
        med = {k: statistics.median(row[i][k] for row in kept) for k in kept[0][i]}
        print(f"| [{i}] | `{exe}` | {med['wall']:.3f} | {med['cpu']:.3f} | {med['user']:.3f} "
              f"| {med['sys']:.3f} | {med['rss_mib']:.1f} | {med['minflt']:.0f} |")
    for i in range(1, len(a.exes)):
        print(f"\n[{i}] / [0], per round:\n")
        print("| measure | median ratio | range | [%d] used more in | sign test p |" % i)
        print("|---|---:|---|---:|---:|")
        for k in ("wall", "cpu", "user", "sys"):
            ratios = [row[i][k] / row[0][k] for row in kept if row[0][k] > 0]
            more = sum(1 for x in ratios if x > 1)
            print(f"| {k} | {statistics.median(ratios):.3f} | {min(ratios):.3f}-{max(ratios):.3f} "
                  f"| {more} of {len(ratios)} | {sign_test(more, len(ratios)):.2f} |")


if __name__ == "__main__":
    main()
