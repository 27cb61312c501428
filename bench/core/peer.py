#!/usr/bin/python3
"""The asyncio / uvloop side of bench/core: the same workloads as core_bench.cpp.

    /usr/bin/python3 peer.py WORKLOAD [uvloop] [N]

WORKLOAD is gather, sleep0 or event (see core_bench.cpp). Prints one line of
key=value pairs in the same format as core_bench: the workload's wall and CPU
time (asyncio.Runner with asyncio's or uvloop's loop, measured inside the process) and the growth of
the peak RSS (ru_maxrss) over its value just before the workload.
"""
import asyncio
import resource
import sys
import time


def peak_rss_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def trivial():
    return None


async def gather_workload(n):
    await asyncio.gather(*[trivial() for _ in range(n)])


async def sleep0_workload(n):
    for _ in range(n):
        await asyncio.sleep(0)


class EventBench:
    # The waiters keep no handles (neither does core_bench): what is measured is
    # what a waiting task costs the runtime, not the benchmark's bookkeeping.
    # asyncio keeps only weak references to tasks, but a task waiting on an
    # Event is held by the Event's waiter future, so none is collected.
    def __init__(self):
        self.event = asyncio.Event()
        self.all_done = asyncio.Event()
        self.waiting = 0


async def wait_on(b):
    b.waiting += 1
    await b.event.wait()
    b.waiting -= 1
    if b.waiting == 0:
        b.all_done.set()


async def event_workload(n):
    b = EventBench()
    for _ in range(n):
        asyncio.create_task(wait_on(b))
    await asyncio.sleep(0)  # one iteration: every waiter starts and blocks on the event
    if b.waiting != n:
        raise RuntimeError(f"only {b.waiting} of {n} tasks are waiting")
    b.event.set()
    await b.all_done.wait()


WORKLOADS = {"gather": gather_workload, "sleep0": sleep0_workload, "event": event_workload}


def main(argv):
    if len(argv) < 2 or argv[1] not in WORKLOADS:
        print(f"usage: {argv[0]} gather|sleep0|event [uvloop] [N]", file=sys.stderr)
        return 2
    workload = argv[1]
    rest = argv[2:]
    impl = "asyncio"
    if rest and rest[0] == "uvloop":
        impl = "uvloop"
        rest = rest[1:]
    n = int(rest[0]) if rest else 1_000_000

    loop_factory = None
    if impl == "uvloop":
        import uvloop

        loop_factory = uvloop.new_event_loop

    rss_before = peak_rss_kib()
    cpu_before = cpu_seconds()
    start = time.perf_counter()
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(WORKLOADS[workload](n))
    seconds = time.perf_counter() - start
    cpu = cpu_seconds() - cpu_before
    rss_delta = peak_rss_kib() - rss_before
    print(
        f"impl={impl} workload={workload} n={n} seconds={seconds:.6f} cpu_seconds={cpu:.6f} "
        f"peak_rss_delta_kib={rss_delta} bytes_per_task={rss_delta * 1024 / n:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
