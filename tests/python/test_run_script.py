"""corun.run / corun.run_or_schedule in a plain script and under uvloop
(issue 13): the article's scraper (examples/scraper.py: get_info + gather
over one corun.ClientSession, GB18030 pages saved as UTF-8 with a BOM)
started each way gives what a direct await gives; exceptions keep their
traceback; the cross-loop misuse message; a thousand runs leak no thread and
no descriptor; and real SIGINTs to child processes cancel the coroutine,
which cleans up, then KeyboardInterrupt (or, under a caller's asyncio.run,
that run's own interrupt) as asyncio.run does."""

import asyncio
import codecs
import os
import signal
import subprocess
import sys
import tempfile
import threading
import traceback

import uvloop

import corun
from support import (PYTHON, check, check_eq, page_text, raises, server_stats, test_server,
                     wait_until)

EXAMPLES = os.path.join(os.environ["CORUN_SOURCE_DIR"], "examples")
sys.path.insert(0, EXAMPLES)
import scraper  # noqa: E402


def check_files(out_dir, count, reference_dir):
    for n in range(count):
        with open(os.path.join(out_dir, f"{n}.html"), "rb") as f:
            data = f.read()
        check(data.startswith(codecs.BOM_UTF8), "UTF-8 with a BOM")
        check_eq(data[3:].decode("utf-8"), page_text(n), f"page {n} decoded from GB18030")
        with open(os.path.join(reference_dir, f"{n}.html"), "rb") as f:
            check_eq(data, f.read(), "the same file as the direct await wrote")


def scraper_runs(base, tmp):
    urls = [f"{base}/page/{n}" for n in range(30)]
    out = lambda name: os.path.join(tmp, name)  # noqa: E731
    direct = asyncio.run(scraper.main(urls, out_dir=out("await")))
    check_eq(len(direct), 30, "pages")
    check_eq(direct[3], (urls[3], "第3页", len(page_text(3))), "a record")

    # No loop running: corun.run is asyncio.run; run_or_schedule runs it too.
    check_eq(corun.run(scraper.main(urls, out_dir=out("run"))), direct, "corun.run")
    check_files(out("run"), 30, out("await"))
    check_eq(corun.run_or_schedule(scraper.main(urls, out_dir=out("sched"))), direct,
             "run_or_schedule without a loop")
    check_files(out("sched"), 30, out("await"))

    # Inside a running loop (an application's callback): the portal.
    async def host():
        got = corun.run(scraper.main(urls, out_dir=out("portal")))
        task = corun.run_or_schedule(scraper.main(urls, out_dir=out("task")))
        check(isinstance(task, asyncio.Task), "run_or_schedule gives a Task inside a loop")
        return got, await task

    got, scheduled = asyncio.run(host())
    check_eq(got, direct, "corun.run inside a running loop")
    check_eq(scheduled, direct, "run_or_schedule inside a running loop")
    check_files(out("portal"), 30, out("await"))

    # uvloop: as the loop corun.run makes, and as the running loop.
    check_eq(corun.run(scraper.main(urls, out_dir=out("uv")), loop_factory=uvloop.new_event_loop),
             direct, "corun.run with uvloop's loop")

    async def uv_host():
        check(type(asyncio.get_running_loop()).__module__.startswith("uvloop"), "on uvloop")
        got = corun.run(scraper.main(urls, out_dir=out("uv-portal")),
                        loop_factory=uvloop.new_event_loop)
        return got, await corun.run_or_schedule(scraper.main(urls, out_dir=out("uv-task")))

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        got, scheduled = runner.run(uv_host())
    check_eq(got, direct, "corun.run inside a running uvloop loop")
    check_eq(scheduled, direct, "run_or_schedule on uvloop")

    # The example itself, as a script.
    with open(out("urls.txt"), "w") as f:
        f.write("\n".join(urls) + "\n")
    proc = subprocess.run([PYTHON, "-X", "dev", os.path.join(EXAMPLES, "scraper.py"),
                           out("urls.txt"), out("example")], capture_output=True, text=True,
                          timeout=120)
    check_eq((proc.returncode, proc.stderr), (0, ""), "examples/scraper.py as a script")
    check(proc.stdout.endswith("30 pages\n"), proc.stdout)
    check_files(out("example"), 30, out("await"))


async def failing(base):
    async with corun.ClientSession() as s:
        await scraper.get_info(s, base + "/status/404", os.devnull)


def frames(e):
    return [f.name for f in traceback.extract_tb(e.__traceback__)]


def exceptions(base):
    try:
        corun.run(failing(base))
        raise AssertionError("no exception")
    except corun.ClientResponseError as e:
        check_eq(e.status, 404, "status")
        check(frames(e)[-2:] == ["get_info", "raise_for_status"], f"traceback: {frames(e)}")

    def in_loop():
        try:
            corun.run(failing(base))
        except corun.ClientResponseError as e:
            return e
        raise AssertionError("no exception")

    async def host():
        return in_loop()

    e = asyncio.run(host())
    check_eq(e.status, 404, "status through the portal")
    check(frames(e)[-2:] == ["get_info", "raise_for_status"], f"portal traceback: {frames(e)}")
    check("failing" in frames(e), "the coroutine's own frame")

    # What cannot work, at once, with what to write instead.
    async def misuse():
        pending = asyncio.ensure_future(asyncio.sleep(30))  # a Task of this (caller's) loop

        async def waits():
            await pending

        try:
            with raises(RuntimeError, "create it inside the coroutine you pass to corun.run(), "
                                      "or await the coroutine directly"):
                corun.run(waits())
        finally:
            pending.cancel()

    asyncio.run(misuse())

    async def nested():
        inner = corun.sleep(0)
        with raises(RuntimeError, "inside a coroutine that corun.run() is running"):
            corun.run(inner)

    corun.run(nested())


def counts():
    return threading.active_count(), len(os.listdir("/proc/self/fd"))


def many_runs(base):
    async def trivial(i):
        await corun.sleep(0)
        return i

    async def host(n):
        return [corun.run(trivial(i)) for i in range(n)]

    asyncio.run(host(1))  # warm up: corun's loop thread, the default executor
    corun.run(trivial(0))
    before = counts()
    check_eq(asyncio.run(host(1000)), list(range(1000)), "1,000 runs through the portal")
    check_eq([corun.run(trivial(i)) for i in range(1000)], list(range(1000)), "1,000 runs")
    check_eq(counts(), before, "threads and descriptors after 2,000 runs")


PRELUDE = """
import asyncio, sys
import corun
base = sys.argv[1]
cleaned = []
async def slow():
    async with corun.ClientSession() as s:
        try:
            await s.get(base + "/slow")
        except asyncio.CancelledError:
            cleaned.append(True)
            await corun.sleep(0.05)   # cleanup may still await
            raise
async def quick():
    async with corun.ClientSession() as s:
        return (await s.get(base + "/page/1")).status
"""

# No loop running: asyncio.run's own handling.
SIGINT_NO_LOOP = PRELUDE + """
try:
    corun.run(slow())
except KeyboardInterrupt:
    print("interrupted", cleaned, flush=True)
print("after", corun.run(quick()), flush=True)
"""

# A running loop with Python's default SIGINT handling (a notebook cell, the
# asyncio REPL): KeyboardInterrupt reaches the blocked caller.
SIGINT_PORTAL = PRELUDE + """
async def cell():
    corun.run(slow())
loop = asyncio.new_event_loop()
try:
    loop.run_until_complete(cell())
except KeyboardInterrupt:
    print("interrupted", cleaned, flush=True)
async def cell2():
    return corun.run(quick())
print("after", loop.run_until_complete(cell2()), flush=True)
loop.close()
"""

# Under a caller's asyncio.run, whose SIGINT handler cancels its main task:
# the portal's coroutine is cancelled, then the caller's task, and
# asyncio.run raises KeyboardInterrupt.
SIGINT_UNDER_ASYNCIO_RUN = PRELUDE + """
async def app():
    try:
        corun.run(slow())
    except asyncio.CancelledError:
        print("caller cancelled", cleaned, flush=True)
        raise
try:
    asyncio.run(app())
except KeyboardInterrupt:
    print("interrupted", flush=True)
async def app2():
    return corun.run(quick())
print("after", asyncio.run(app2()), flush=True)
"""

# The same with the call in a task asyncio.run's main task awaits through
# wait_for: the handler cancels the main task, which cannot go on while the
# call blocks the loop; the call ends with CancelledError, which goes up to
# the main task (Ctrl-C was lost until the coroutine ended by itself).
SIGINT_UNDER_WAIT_FOR = PRELUDE + """
async def work():
    try:
        return corun.run(slow())
    except asyncio.CancelledError:
        print("caller cancelled", cleaned, flush=True)
        raise
async def app():
    try:
        return await asyncio.wait_for(work(), 600)
    except asyncio.CancelledError:
        print("main cancelled", flush=True)
        raise
try:
    asyncio.run(app())
except KeyboardInterrupt:
    print("interrupted", flush=True)
async def app2():
    return corun.run(quick())
print("after", asyncio.run(app2()), flush=True)
"""


# A coroutine whose cleanup takes long: the first Ctrl-C cancels it and waits
# for the cleanup, a second one stops waiting (the cleanup goes on, on the
# helper thread, abandoned at exit).
SIGINT_TWICE = PRELUDE + """
import sys
async def stubborn():
    try:
        print("running", flush=True)
        await corun.sleep(60)
    except asyncio.CancelledError:
        print("cleaning up", flush=True)
        await asyncio.sleep(60)
async def cell():
    corun.run(stubborn())
loop = asyncio.new_event_loop()
try:
    loop.run_until_complete(cell())
except KeyboardInterrupt:
    print("interrupted twice", flush=True)
loop.close()
"""


def sigint_twice():
    proc = subprocess.Popen([PYTHON, "-W", "default", "-c", SIGINT_TWICE, "unused"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        check_eq(proc.stdout.readline(), "running\n", "the coroutine runs")
        os.kill(proc.pid, signal.SIGINT)
        check_eq(proc.stdout.readline(), "cleaning up\n", "the first Ctrl-C cancels it")
        os.kill(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"the second Ctrl-C did not end the wait: {out!r} {err!r}")
    check_eq((proc.returncode, out, err), (0, "interrupted twice\n", ""), "a second Ctrl-C")


# A handler the application gave loop.add_signal_handler is its say on
# Ctrl-C: corun leaves it alone, and it runs on the application's loop once
# the call returns (the coroutine is not interrupted).
SIGINT_ADD_SIGNAL_HANDLER = """
import asyncio, signal, corun
async def main():
    print("running", flush=True)
    await corun.sleep(1.5)
    print("main woke", flush=True)
async def app():
    asyncio.get_running_loop().add_signal_handler(
        signal.SIGINT, lambda: print("app handler ran", flush=True))
    corun.run(main())
    await asyncio.sleep(0.2)
    print("app done", flush=True)
asyncio.run(app())
"""


def sigint_add_signal_handler():
    proc = subprocess.Popen([PYTHON, "-W", "default", "-c", SIGINT_ADD_SIGNAL_HANDLER],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        check_eq(proc.stdout.readline(), "running\n", "the coroutine runs")
        os.kill(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"loop.add_signal_handler: {out!r} {err!r}")
    check_eq((proc.returncode, out, err), (0, "main woke\napp handler ran\napp done\n", ""),
             "Ctrl-C with the application's loop.add_signal_handler")


def sigint(base):
    for name, source, expected in [
            ("no loop", SIGINT_NO_LOOP, "interrupted [True]\nafter 200\n"),
            ("portal", SIGINT_PORTAL, "interrupted [True]\nafter 200\n"),
            ("under asyncio.run", SIGINT_UNDER_ASYNCIO_RUN,
             "caller cancelled [True]\ninterrupted\nafter 200\n"),
            ("under asyncio.run's wait_for", SIGINT_UNDER_WAIT_FOR,
             "caller cancelled [True]\nmain cancelled\ninterrupted\nafter 200\n")]:
        started = server_stats(base)["slow_started"]
        proc = subprocess.Popen([PYTHON, "-W", "default", "-c", source, base],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_until(lambda: server_stats(base)["slow_started"] > started or proc.poll() is not None,
                   "the child's slow request")
        check(proc.poll() is None, f"{name}: child still waiting")
        os.kill(proc.pid, signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            raise AssertionError(f"{name}: child did not finish: {out!r} {err!r}")
        check_eq((proc.returncode, out, err), (0, expected, ""), f"Ctrl-C, {name}")
        wait_until(lambda: server_stats(base)["slow_active"] == 0, f"{name}: the transfer to stop")


def main():
    with test_server() as base, tempfile.TemporaryDirectory(prefix="corun-py-run-") as tmp:
        scraper_runs(base, tmp)
        exceptions(base)
        many_runs(base)
        sigint(base)
        sigint_twice()
        sigint_add_signal_handler()
    print("ok")


if __name__ == "__main__":
    main()
