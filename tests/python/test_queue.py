"""The shared crawl from Python (docs/scale-out.md, issue 14): a private
redis-server and three loopback HTTP servers (three host names); the URLs
enqueued from Python (an async generator, streamed; duplicates; a resumed
run), two Python worker processes running corun.fetch_sync(queue=...) at
once, the report written by corun.collect: every URL exactly one record and
its file. Then the errors (a malformed queue URL, a server that refuses, no
such crawl, a key of the wrong type) and the graceful stops: a cancelled
corun.fetch(queue=...) and Ctrl-C on a fetch_sync worker hand back every URL
they held, and another worker finishes the crawl; a collector waits out a
stalled Redis and says so in CollectResult.warnings."""

import asyncio
import codecs
import json
import os
import signal
import subprocess
import sys
import tempfile

import corun
from support import (PYTHON, check, check_eq, free_port, module_env, page_text, raises,
                     redis_cli, redis_server, test_server, wait_until)

HOSTS = ("127.0.0.1", "127.0.0.2", "127.0.0.3")

# A worker in its own process: its FetchResults as one JSON line on stdout.
WORKER = r"""
import json, sys
import corun
r = corun.fetch_sync(queue=sys.argv[1], out_dir=sys.argv[2], concurrency=4,
                     worker_name=sys.argv[3])
print(json.dumps({"urls": [x.url for x in r], "ok": [x.ok for x in r], "worker": r.worker,
                  "finished": r.finished, "counters": r.worker_counters}), flush=True)
"""


def start_worker(queue, out_dir, name):
    return subprocess.Popen([PYTHON, "-X", "dev", "-c", WORKER, queue, out_dir, name],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=module_env())


def pending(redis, crawl):
    """URLs leased to some worker (the work stream's pending entries)."""
    summary = redis_cli(redis, "XPENDING", "{" + crawl + "}:work", "workers")
    return int(summary.split("\n")[0])


def check_report(report, expected_urls, page_of):
    with open(report, encoding="utf-8") as f:
        records = [json.loads(line) for line in f]
    urls = [r["url"] for r in records]
    check_eq(len(urls), len(expected_urls), "one report record per URL")
    check_eq(set(urls), set(expected_urls), "the report's URLs are the crawl's")
    for r in records:
        check_eq(r["status"], 200, f"status of {r['url']}")
        check_eq(r["error"], None, f"error of {r['url']}")
        check(os.path.isfile(r["path"]), f"file of {r['url']}: {r['path']}")
        with open(r["path"], "rb") as f:
            data = f.read()
        check(data.startswith(codecs.BOM_UTF8), "UTF-8 with a BOM")
        check_eq(data[3:].decode("utf-8"), page_text(page_of[r["url"]]), "the page")
    return records


def two_workers(bases, redis, tmp):
    queue = redis + "/crawl.main"
    # 200 distinct URLs over three hosts, then 30 of them again.
    distinct = [f"{bases[n % 3]}/page/{n}" for n in range(200)]
    page_of = {u: n for n, u in enumerate(distinct)}
    lines = distinct + distinct[:30]

    async def produce():
        # An async generator, read in batches as the crawl takes them.
        for line in lines:
            yield line

    r = asyncio.run(corun.enqueue(produce(), queue=queue, limit_per_host=2, retries=1,
                                  input_name="main"))
    check_eq((r.lines, r.added, r.duplicates, r.resumed), (230, 200, 30, 0), f"enqueue {r!r}")
    # The same input, the same name: every line was added already.
    r = corun.enqueue_sync(iter(lines), queue=queue, input_name="main")
    check_eq((r.lines, r.added, r.duplicates, r.resumed), (230, 0, 0, 230), f"resumed {r!r}")
    # No name: read again, all duplicates, nothing added twice.
    r = corun.enqueue_sync(distinct[:50], queue=queue)
    check_eq((r.lines, r.added, r.duplicates), (50, 0, 50), f"again {r!r}")
    # (Stored under the key's old name, which crawls made before the rename have.)
    check_eq(redis_cli(redis, "HGET", "{crawl.main}:meta", "per_host"), "2",
             "the crawl's settings stored")

    out_dir = os.path.join(tmp, "pages")
    workers = [start_worker(queue, out_dir, f"py-worker-{i}") for i in range(2)]
    report = os.path.join(tmp, "report.jsonl")
    collected = corun.collect_sync(queue=queue, report=report)
    outs = []
    for proc in workers:
        stdout, stderr = proc.communicate(timeout=120)
        check_eq(proc.returncode, 0, f"worker exit status; stderr:\n{stderr}")
        outs.append(json.loads(stdout.strip().splitlines()[-1]))
    check_eq((collected.written, collected.done, collected.failed), (200, 200, 0),
             f"collect {collected!r}")
    check(collected.ok, "collect ok")
    check_report(report, distinct, page_of)
    worked = []
    for out in outs:
        check(out["finished"], f"{out['worker']} saw the crawl finished")
        check(all(out["ok"]), f"{out['worker']}: every record ok")
        check_eq(out["counters"]["recorded"], len(out["urls"]), "recorded = its records")
        worked += out["urls"]
    check_eq(sorted(worked), sorted(distinct), "the workers' records: each URL once")
    print(f"two workers: {[len(o['urls']) for o in outs]} records")


def errors(redis):
    with raises(ValueError, "redis://[user:password@]host:port[/db]/NAME"):
        corun.enqueue_sync(["http://h/"], queue="redis://127.0.0.1:6379")
    with raises(ValueError, "expected redis://"):
        corun.fetch(queue="http://127.0.0.1:6379/crawl")
    with raises(ValueError, "NAME may hold only"):
        corun.collect_sync(queue="redis://127.0.0.1:6379/a b", report="x")
    refused = f"redis://127.0.0.1:{free_port()}/crawl"
    with raises(corun.QueueError, "Connection refused"):
        corun.fetch_sync(queue=refused, out_dir="unused")
    with raises(corun.QueueError, "Connection refused"):
        asyncio.run(corun.enqueue(["http://h/a"], queue=refused))
    with raises(OSError, "Connection refused"):  # QueueError is an OSError
        corun.collect_sync(queue=refused, report="unused")
    with raises(corun.QueueError, "no-such-crawl"):
        corun.fetch_sync(queue=redis + "/no-such-crawl", out_dir="unused")
    redis_cli(redis, "SET", "{typed}:work", "a string")
    with raises(corun.QueueError, "{typed}:work"):
        corun.enqueue_sync(["http://h/a"], queue=redis + "/typed")
    # A bad item in the iterable: TypeError, and the enqueue stops.
    with raises(TypeError, "must hold str"):
        corun.enqueue_sync(["http://h/a", 7], queue=redis + "/items")


def streamed(redis):
    # The iterable is read as the crawl takes it, never whole: by line 9,000 the
    # first thousand are in Redis (Python runs at most a few batches of 1,000
    # ahead: the producer takes a batch only once it has added the one before).
    queue = redis + "/streamed"
    seen_in_redis = []

    def lines():
        for n in range(10000):
            if n == 9000:
                seen_in_redis.append(int(redis_cli(redis, "XLEN", "{streamed}:work")))
            yield f"http://127.0.0.1:9/{n}"

    r = corun.enqueue_sync(lines(), queue=queue)
    check_eq((r.lines, r.added), (10000, 10000), f"streamed {r!r}")
    check(seen_in_redis[0] >= 1000, f"streamed: {seen_in_redis[0]} URLs in Redis at line 9000")


def from_file(redis, tmp):
    # urls_file: as --enqueue FILE (named by its path: a second run resumes).
    queue = redis + "/from-file"
    path = os.path.join(tmp, "urls.txt")
    with open(path, "w") as f:
        f.write("# a comment\n\n" + "".join(f"http://127.0.0.1:9/f{n} utf-8\n" for n in range(300)))
    r = corun.enqueue_sync(urls_file=path, queue=queue, encoding="utf-8")
    check_eq((r.lines, r.added, r.duplicates, r.resumed), (302, 300, 0, 0), f"file {r!r}")
    r = asyncio.run(corun.enqueue(urls_file=path, queue=queue))
    check_eq((r.lines, r.added, r.resumed), (302, 0, 302), f"file again {r!r}")
    with raises(OSError):
        corun.enqueue_sync(urls_file=os.path.join(tmp, "missing.txt"), queue=queue)


def slow_crawl(bases, redis, name, count):
    queue = f"{redis}/{name}"
    urls = [f"{bases[n % 3]}/delay/{300 + n}" for n in range(count)]
    r = corun.enqueue_sync(urls, queue=queue, per_host=2)  # (the old name, an alias)
    check_eq(r.added, count, "slow crawl enqueued")
    return queue, urls


def finish_and_check(queue, urls, tmp, what):
    report = os.path.join(tmp, f"{what}.jsonl")
    results = corun.fetch_sync(queue=queue, out_dir=os.path.join(tmp, what), concurrency=8,
                               records=False)
    check(results.finished, f"{what}: the second worker finished the crawl")
    check_eq(len(results), 0, f"{what}: records=False keeps none")
    check(results.done > 0 and results.worker_counters["recorded"] == results.done,
          f"{what}: the second worker's summary {results!r} {results.worker_counters}")
    check_eq((results.warnings, results.worker_counters["not_delivered"]), ([], 0),
             f"{what}: Redis stayed up, nothing to warn of")
    collected = corun.collect_sync(queue=queue, report=report)
    check_eq((collected.done, collected.failed), (len(urls), 0), f"{what}: {collected!r}")
    check_eq(collected.warnings, [], f"{what}: the collector had nothing to warn of")
    with open(report, encoding="utf-8") as f:
        got = sorted(json.loads(line)["url"] for line in f)
    check_eq(got, sorted(urls), f"{what}: every URL exactly one record")


def cancelled_worker(bases, redis, tmp):
    queue, urls = slow_crawl(bases, redis, "cancelled", 30)

    async def run():
        task = asyncio.ensure_future(corun.fetch(queue=queue, out_dir=os.path.join(tmp, "c1"),
                                                 concurrency=4))
        while pending(redis, "cancelled") == 0:
            check(not task.done(), "the worker is still running")
            await asyncio.sleep(0.02)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return
        raise AssertionError("a cancelled worker raises CancelledError")

    asyncio.run(run())
    check_eq(pending(redis, "cancelled"), 0, "the cancelled worker holds no URL")
    check_eq(redis_cli(redis, "HLEN", "{cancelled}:workers"), "0", "and left the group")
    done = int(redis_cli(redis, "HGET", "{cancelled}:stats", "done") or 0)
    check(done < len(urls), "the cancelled worker stopped before the end")
    finish_and_check(queue, urls, tmp, "cancelled")


def cancelled_collector(bases, redis, tmp):
    # A cancelled corun.collect raises once the C++ collector has stopped: its
    # claim is let go (the same call right after is not refused as a second
    # collector) and what it wrote is whole.
    queue, urls = slow_crawl(bases, redis, "collected", 6)
    report = os.path.join(tmp, "collected.jsonl")

    async def run():
        task = asyncio.create_task(corun.collect(queue=queue, report=report))
        while redis_cli(redis, "GET", "{collected}:collector") == "":
            await asyncio.sleep(0.02)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return redis_cli(redis, "GET", "{collected}:collector")
        raise AssertionError("a cancelled collect raises CancelledError")

    check_eq(asyncio.run(run()), "", "the cancelled collector let go of its claim")
    finish_and_check(queue, urls, tmp, "collected")


def stalled_redis_collector(bases, redis, tmp):
    # Redis stalls (SIGSTOP) while corun.collect waits for records: past its
    # 5 s of patience the collector says so and keeps waiting; once Redis is
    # back (SIGCONT) it says that too, and it finishes the report when a worker
    # finishes the crawl. Both lines are in CollectResult.warnings.
    queue, urls = slow_crawl(bases, redis, "stalled", 4)
    report = os.path.join(tmp, "stalled.jsonl")
    pid = int(next(line.split(":")[1] for line in redis_cli(redis, "INFO", "server").split("\n")
                   if line.startswith("process_id:")))

    def xranges():  # XRANGE calls the server has answered: the collector's polls
        stats = redis_cli(redis, "INFO", "commandstats")
        line = next((x for x in stats.split("\n") if x.startswith("cmdstat_xrange:")), "")
        return int(line.split("calls=")[1].split(",")[0]) if line else 0

    async def run():
        before = xranges()
        task = asyncio.create_task(corun.collect(queue=queue, report=report))
        # Two polls answered: the collector has claimed the crawl, read where its
        # report stands and waits for records (each poll with its 5 s of patience).
        while xranges() < before + 2:
            check(not task.done(), "the collector is still running")
            await asyncio.sleep(0.02)
        os.kill(pid, signal.SIGSTOP)
        try:
            await asyncio.sleep(8)  # past the collector's patience
            check(not task.done(), "the collector waits while Redis is stalled")
        finally:
            os.kill(pid, signal.SIGCONT)
        worker = await corun.fetch(queue=queue, out_dir=os.path.join(tmp, "stalled"),
                                   concurrency=8, records=False)
        check(worker.finished, "stalled: the worker finished the crawl")
        return await asyncio.wait_for(task, 120)

    collected = asyncio.run(run())
    check_eq((collected.written, collected.done, collected.failed), (len(urls), len(urls), 0),
             f"stalled: {collected!r}")
    check_eq(len(collected.warnings), 2, f"stalled: {collected.warnings}")
    check("(retrying; records stay in Redis until written)" in collected.warnings[0],
          f"stalled: the wait said: {collected.warnings}")
    check(collected.warnings[1].endswith("connected again"),
          f"stalled: the return said: {collected.warnings}")
    with open(report, encoding="utf-8") as f:
        got = sorted(json.loads(line)["url"] for line in f)
    check_eq(got, sorted(urls), "stalled: every URL exactly one record")


def interrupted_worker(bases, redis, tmp):
    queue, urls = slow_crawl(bases, redis, "interrupted", 30)
    proc = start_worker(queue, os.path.join(tmp, "i1"), "py-interrupted")
    try:
        wait_until(lambda: pending(redis, "interrupted") > 0 or proc.poll() is not None,
                   "the worker's first claim")
        check(proc.poll() is None, "the worker runs")
        proc.send_signal(signal.SIGINT)
        _stdout, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    check(proc.returncode != 0, "interrupted: no results")
    check("KeyboardInterrupt" in stderr, f"KeyboardInterrupt raised:\n{stderr}")
    check_eq(pending(redis, "interrupted"), 0, "the interrupted worker holds no URL")
    check_eq(redis_cli(redis, "HLEN", "{interrupted}:workers"), "0", "and left the group")
    finish_and_check(queue, urls, tmp, "interrupted")


def main():
    with tempfile.TemporaryDirectory(prefix="corun-py-queue-") as tmp, redis_server() as redis:
        with test_server(HOSTS[0]) as a, test_server(HOSTS[1]) as b, test_server(HOSTS[2]) as c:
            bases = (a, b, c)
            two_workers(bases, redis, tmp)
            errors(redis)
            streamed(redis)
            from_file(redis, tmp)
            cancelled_worker(bases, redis, tmp)
            cancelled_collector(bases, redis, tmp)
            stalled_redis_collector(bases, redis, tmp)
            interrupted_worker(bases, redis, tmp)
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
