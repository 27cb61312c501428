"""A plain script, no event loop anywhere: the blocking twins (fetch_sync,
ClientSession.get_sync, sleep_sync), several Python threads at once, and
asyncio.run() of the coroutine versions in between."""

import asyncio
import codecs
import json
import os
import tempfile
import threading

import corun
from support import (check, check_eq, free_port, nginx, page_text, raises, server_stats,
                     test_server, wait_until, write_pages)


def check_fetch(results, base, paths, out_dir):
    check_eq(len(results), len(paths), "one record per URL")
    check(results.ok, f"all done: {results!r}")
    check_eq(results.done, len(paths), "summary done")
    for n, (record, path) in enumerate(zip(results, paths)):
        check_eq(record.url, base + path, "records in input order")
        check_eq(record.status, 200, "status")
        check_eq(record.final_url, base + path, "final_url")
        check_eq(record.encoding, "GBK", "encoding")
        check_eq(record.encoding_source, "meta", "encoding_source")
        check_eq(record.error, None, "error")
        check(record.ok, "ok")
        check_eq(record.attempts, 1, "attempts")
        check(record.elapsed >= 0, "elapsed")
        check_eq(record.bytes, len(page_text(n).encode("gb18030")), "bytes")
        check_eq(os.path.dirname(record.path), out_dir, "file in out_dir")
        with open(record.path, "rb") as f:
            data = f.read()
        check(data.startswith(codecs.BOM_UTF8), "UTF-8 with a BOM")
        check_eq(data[3:].decode("utf-8"), page_text(n), "the page as UTF-8")
    check(os.path.exists(os.path.join(out_dir, "report.jsonl")), "report written")


def fetch_tests(base, paths, tmp):
    urls = [base + p for p in paths]
    out = os.path.join(tmp, "sync")
    check_fetch(corun.fetch_sync(urls, out_dir=out, concurrency=8), base, paths, out)

    out = os.path.join(tmp, "async")
    check_fetch(asyncio.run(corun.fetch(urls, out_dir=out)), base, paths, out)

    # Failures are records, never exceptions.
    bad = [base + "/missing.html", f"http://127.0.0.1:{free_port()}/x", "not-a-url"]
    results = corun.fetch_sync(bad, out_dir=os.path.join(tmp, "bad"), retries=0)
    check_eq([r.url for r in results], bad, "records in input order")
    check_eq(results.failed, 3, "three failures")
    check_eq(results[0].status, 404, "404 recorded")
    check(all(r.error and not r.ok and r.path is None for r in results), "errors recorded")
    check_eq(results[1].status, None, "no response: status None")

    # A file of URLs, streamed.
    list_file = os.path.join(tmp, "urls.txt")
    with open(list_file, "w") as f:
        f.write("\n".join(urls) + "\n")
    results = corun.fetch_sync(urls_file=list_file, out_dir=os.path.join(tmp, "file"))
    check_eq(sorted(r.url for r in results), sorted(urls), "urls_file")

    # --raw, --no-bom.
    results = corun.fetch_sync(urls[:1], out_dir=os.path.join(tmp, "raw"), raw=True)
    with open(results[0].path, "rb") as f:
        check_eq(f.read(), page_text(0).encode("gb18030"), "raw keeps the bytes")
    results = corun.fetch_sync(urls[:1], out_dir=os.path.join(tmp, "nobom"), bom=False)
    with open(results[0].path, "rb") as f:
        check_eq(f.read(), page_text(0).encode("utf-8"), "bom=False")

    # Argument errors name the argument; bad option values are ValueError.
    with raises(TypeError, "'urls'"):
        corun.fetch_sync(base + paths[0])
    with raises(TypeError, "'concurrency'"):
        corun.fetch_sync(urls, concurrency="8")
    with raises(TypeError, "'out_dir'"):
        corun.fetch_sync(urls, out_dir=3)
    with raises(TypeError, "'urls'"):
        corun.fetch(urls=[1, 2])
    with raises(ValueError):
        corun.fetch_sync(urls, out_dir=os.path.join(tmp, "enc"), encoding="no-such-label")


def base_url_order(server, out_dir):
    # Lines relative to base_url complete out of order (the first ones are
    # delayed); the records still come back in input order, each with its
    # position (Record.index), whatever their URL text became.
    lines = ["/delay/600", "", "# a comment", "/page/1", "/delay/300", "/page/2"]
    results = corun.fetch_sync(lines, base_url=server, out_dir=out_dir, concurrency=8)
    check(results.ok, f"all done: {results!r}")
    check_eq([r.url for r in results],
             [server + p for p in ("/delay/600", "/page/1", "/delay/300", "/page/2")],
             "records in input order with base_url")
    check_eq([r.index for r in results], [0, 1, 2, 3], "input positions")


async def cancelled_fetch(server, out_dir):
    # Cancelling the task awaiting corun.fetch stops the C++ run: transfers are aborted.
    # The CancelledError comes once the run is over: the report already holds the
    # record of the page done before (it used to be written a moment later).
    started = server_stats(server)["slow_started"]
    served = server_stats(server)["pages_served"]
    task = asyncio.create_task(
        corun.fetch([server + "/slow", server + "/page/1"], out_dir=out_dir, retries=0))
    while (server_stats(server)["slow_started"] == started
           or server_stats(server)["pages_served"] == served):
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.2)  # the page's record is made (its file written)
    task.cancel()
    with raises(asyncio.CancelledError):
        await task
    report = os.path.join(out_dir, "report.jsonl")

    def records():
        with open(report, encoding="utf-8") as f:
            return [json.loads(line) for line in f]

    at_cancel = records()
    check_eq([r["url"] for r in at_cancel], [server + "/page/1"],
             "the report is written when CancelledError arrives")
    wait_until(lambda: server_stats(server)["slow_active"] == 0, "the fetch's transfer to stop")
    check_eq(records(), at_cancel, "nothing written after the run ended")


def session_tests(base):
    with corun.ClientSession() as s:
        r = s.get_sync(base + "/page/5")
        check_eq(r.status, 200, "status")
        check_eq(r.text_sync(), page_text(5), "text_sync")
        r = s.get_sync(base + "/status/418")
        with raises(corun.ClientResponseError, "418"):
            r.raise_for_status()
        with raises(corun.ClientConnectionError):
            s.get_sync(f"http://127.0.0.1:{free_port()}/")
        with raises(TimeoutError):
            s.get_sync(base + "/hang", timeout=0.2)
        check_eq(s.post_sync(base + "/echo", data=b"abc").json_sync()["body"], "abc", "post_sync")

        # Several Python threads blocking on the same session at once.
        errors = []

        def worker(k):
            try:
                for n in range(k, 40, 4):
                    check_eq(s.get_sync(f"{base}/page/{n}").text_sync(), page_text(n), "thread")
            except BaseException as e:  # noqa: BLE001 (reported below)
                errors.append(e)

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        check_eq(errors, [], "thread errors")

        # The coroutine versions need a running loop: asyncio.run gives one.
        check_eq(asyncio.run(status_of(s, base + "/page/1")), 200, "asyncio.run inside a script")
    check(s.closed, "with closes the session")

    # Awaiting outside any loop is asyncio's usual error, not a hang.
    coro = corun.sleep(0)
    with raises(RuntimeError, "no running event loop"):
        coro.send(None)


async def status_of(s, url):
    return (await s.get(url)).status


def core_tests():
    check_eq(corun.sleep_sync(0.01, "r"), "r", "sleep_sync")
    check_eq(asyncio.run(corun.sleep(0.01, "a")), "a", "asyncio.run(corun.sleep())")
    with raises(TypeError, "'delay'"):
        corun.sleep_sync("1")
    check(corun._loop_thread_running(), "the loop thread runs once used")


def main():
    core_tests()
    with test_server() as base:
        session_tests(base)
    with tempfile.TemporaryDirectory(prefix="corun-py-") as tmp:
        root = os.path.join(tmp, "www")
        paths = write_pages(root, 30)
        with nginx(root) as base:
            fetch_tests(base, paths, tmp)
        with test_server() as server:
            base_url_order(server, os.path.join(tmp, "base_url"))
            asyncio.run(cancelled_fetch(server, os.path.join(tmp, "cancelled")))
    print("ok")


if __name__ == "__main__":
    main()
