#!/usr/bin/python3
"""What corun.run costs (issue 13), measured in one sitting, printed as a
markdown table (bench/README.md, "Python binding: corun.run").

  PYTHONPATH=<build>/python bench/python/run_cost.py [--calls N] [--rounds R]
                                                      [--pages P] [--kernel-runs K]

1. A trivial coroutine (`async def f(): return 1`), per call, median of R
   rounds of N calls, the variants interleaved round by round:
   - asyncio.run(f()) in a script (the peer);
   - corun.run(f()) in a script (asyncio.Runner plus corun's checks);
   - corun.run(f()) inside a running loop (the portal: a helper thread, a
     fresh loop there, the hand-over and the join);
   - by hand, the same inside a running loop: threading.Thread running
     asyncio.run(f()), started and joined (what one writes without corun).
2. The article's scraper (examples/scraper.py) over P GB18030 pages served
   by nginx on loopback, in one Jupyter kernel (ipykernel via nbclient's
   kernel manager): `await main(urls)` vs `corun.run(main(urls))`,
   alternated K times, medians.
"""

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "python"))

import corun  # noqa: E402


async def trivial():
    return 1


def per_call(fn, calls):
    t0 = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - t0) / calls


def by_hand_thread():
    box = []
    t = threading.Thread(target=lambda: box.append(asyncio.run(trivial())))
    t.start()
    t.join()
    return box[0]


def in_loop(fn, calls):
    async def host():
        return per_call(fn, calls)
    return asyncio.run(host())


def trivial_costs(calls, rounds):
    variants = {
        "asyncio.run, script (peer)": lambda: per_call(lambda: asyncio.run(trivial()), calls),
        "corun.run, script": lambda: per_call(lambda: corun.run(trivial()), calls),
        "corun.run, inside a running loop (portal)":
            lambda: in_loop(lambda: corun.run(trivial()), calls),
        "thread + asyncio.run by hand, inside a running loop":
            lambda: in_loop(by_hand_thread, calls),
    }
    samples = {name: [] for name in variants}
    for name, fn in variants.items():  # warm-up
        fn()
    for _ in range(rounds):
        for name, fn in variants.items():
            samples[name].append(fn())
    return {name: statistics.median(v) for name, v in samples.items()}


def kernel_scraper(pages, runs):
    from jupyter_client.manager import start_new_kernel
    from support import nginx, write_pages

    with tempfile.TemporaryDirectory(prefix="corun-run-bench-") as tmp:
        root = os.path.join(tmp, "www")
        paths = write_pages(root, pages)
        with nginx(root) as base:
            urls = [base + p for p in paths]
            km, kc = start_new_kernel(kernel_name="python3")
            try:
                def run(code):
                    reply = kc.execute_interactive(code, timeout=600, output_hook=lambda m: None)
                    if reply["content"]["status"] != "ok":
                        raise RuntimeError(f"kernel: {reply['content']}")

                def value(expr):
                    out = []

                    def hook(msg):
                        if msg["msg_type"] == "execute_result":
                            out.append(msg["content"]["data"]["text/plain"])
                    kc.execute_interactive(expr, timeout=600, output_hook=hook)
                    return float(out[0])

                run(f"import sys, time, corun\nsys.path.insert(0, {os.path.join(TOP, 'examples')!r})\n"
                    f"from scraper import main\nURLS = {urls!r}\nOUT = {tmp!r}\n")
                # One of each first (connections, imports), not measured.
                run("await main(URLS, out_dir=OUT + '/warm-await')")
                run("corun.run(main(URLS, out_dir=OUT + '/warm-run'))")
                times = {"await main(urls)": [], "corun.run(main(urls))": []}
                for i in range(runs):
                    run(f"t0 = time.perf_counter(); r = await main(URLS, out_dir=OUT + '/a{i}'); "
                        f"t_await = time.perf_counter() - t0")
                    times["await main(urls)"].append(value("t_await"))
                    run(f"t0 = time.perf_counter(); r = corun.run(main(URLS, out_dir=OUT + '/r{i}')); "
                        f"t_run = time.perf_counter() - t0")
                    times["corun.run(main(urls))"].append(value("t_run"))
            finally:
                kc.stop_channels()
                km.shutdown_kernel(now=True)
    return {k: statistics.median(v) for k, v in times.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=500)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--pages", type=int, default=1000)
    ap.add_argument("--kernel-runs", type=int, default=5)
    args = ap.parse_args()

    load = open("/proc/loadavg").read().split()[:3]
    print(f"<!-- {time.strftime('%Y-%m-%dT%H:%MZ', time.gmtime())}, {os.cpu_count()} cores, "
          f"load {' '.join(load)}, python {sys.version.split()[0]} -->")
    costs = trivial_costs(args.calls, args.rounds)
    peer = costs["asyncio.run, script (peer)"]
    print(f"\nA trivial coroutine, median of {args.rounds} rounds of {args.calls} calls:\n")
    print("| how | µs per call | ratio to asyncio.run |")
    print("|---|---:|---:|")
    for name, t in costs.items():
        print(f"| {name} | {t * 1e6:.0f} | {t / peer:.2f} |")

    if args.kernel_runs > 0:
        times = kernel_scraper(args.pages, args.kernel_runs)
        ref = times["await main(urls)"]
        print(f"\nThe scraper over {args.pages} pages in one Jupyter kernel, median of "
              f"{args.kernel_runs} alternated runs:\n")
        print("| how | seconds | pages/s | ratio to await |")
        print("|---|---:|---:|---:|")
        for name, t in times.items():
            print(f"| `{name}` | {t:.3f} | {args.pages / t:,.0f} | {t / ref:.2f} |")


if __name__ == "__main__":
    main()
