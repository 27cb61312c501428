"""corun in a fork's child (os.fork, multiprocessing's "fork" start method,
the default on Linux before Python 3.14). The child has only the thread that
forked, not corun's loop thread: its first corun call starts its own. Against
a real nginx over HTTPS on loopback, its requests logged with their
connection's number:

- a multiprocessing Pool of forked workers, made after the parent used corun,
  runs corun.run(...) with a ClientSession and corun.fetch in every worker;
- a ClientSession the parent used goes on working in the child, over the
  child's own connection, and closing it there leaves the parent's
  connection alone (the parent's next request comes over the same one);
- a child's child works the same way;
- children forked while another thread keeps corun's loop thread busy
  (allocating, logging, completing requests) all finish.

Each child is waited for with a deadline (a hang fails the check, it does not
stall the run).

Under a sanitizer (tests/python/CMakeLists.txt preloads its runtime) the last
case is not run, and the test says so: the sanitizers' own allocators are not
fork-safe (a child forked while another thread is inside TSan's malloc hangs
in it; TSan ends such children by default, die_after_fork=1, for that
reason), and corun's frame pool, whose lock the case is about, is off in those
builds. tests/core/fork_test.cpp is the pool's case in C++."""

import asyncio
import multiprocessing
import os
import sys
import tempfile
import threading
import time

import corun
from support import (check, check_eq, check_sanitizer_loaded, nginx, page_text, wait_until,
                     write_pages)

CHILD_DEADLINE = 60.0
SANITIZED = bool(os.environ.get("CORUN_SANITIZER_PRELOAD"))


def wait_child(pid, what):
    """The child's exit code; kills it and fails if it has not exited in time."""
    deadline = time.monotonic() + CHILD_DEADLINE
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
            check(False, f"{what}: the child did not finish in {CHILD_DEADLINE:.0f} s")
        time.sleep(0.01)


def in_child(body):
    """Runs body() in the child and leaves with 0 if it returned True, 1 if
    False, 2 if it raised (printed). Never returns in the child."""
    code = 2
    try:
        code = 0 if body() else 1
    except BaseException:  # noqa: BLE001 (reported by the exit code)
        import traceback
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


async def get_text(session, url):
    async with session.get(url) as r:
        check_eq(r.status, 200, url)
        return await r.text()


async def page_ok(base, ca, n):
    """True if a new session's GET of page n returns its text."""
    async with corun.ClientSession(ca_file=ca) as s:
        return await get_text(s, f"{base}/p/{n}.html") == page_text(n)


def connection_of(access_log, path):
    """The connection number nginx logged path's request on."""
    with open(access_log) as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 3 and fields[2] == path:
                return fields[0]
    return None


# --- a Pool of forked workers ------------------------------------------------

def _worker(args):
    base, ca, n, out = args

    async def job():
        await corun.sleep(0.001)
        async with corun.ClientSession(ca_file=ca) as s:
            text = await get_text(s, f"{base}/p/{n}.html")
        results = await corun.fetch([f"{base}/p/{n + 10}.html"], out_dir=out, cacert=ca,
                                    progress=False)
        return text == page_text(n), [r.status for r in results], os.getpid()

    return corun.run(job())


def pool_of_forked_workers(base, ca):
    # The parent's loop thread is running (it has served a request) when the pool forks.
    async def warm():
        async with corun.ClientSession(ca_file=ca) as s:
            return await get_text(s, f"{base}/p/0.html")

    check_eq(corun.run(warm()), page_text(0), "the parent's request")
    with tempfile.TemporaryDirectory() as out:
        ctx = multiprocessing.get_context("fork")
        with ctx.Pool(2) as pool:
            pending = pool.map_async(_worker, [(base, ca, n, f"{out}/w{n}") for n in range(1, 5)])
            got = pending.get(timeout=CHILD_DEADLINE)
        check_eq([ok for ok, _, _ in got], [True] * 4, "every worker's page")
        check_eq([statuses for _, statuses, _ in got], [[200]] * 4, "every worker's fetch")
        check(all(pid != os.getpid() for _, _, pid in got), "the work ran in the children")
        for n in range(1, 5):
            with open(f"{out}/w{n}/{n + 10}.html", encoding="utf-8-sig") as f:
                check_eq(f.read(), page_text(n + 10), f"worker {n}'s fetched file")
    # The parent goes on as before.
    check_eq(corun.run(warm()), page_text(0), "the parent's request after the pool")


# --- a session used in the parent, then in the child -------------------------

def inherited_session(base, ca, access_log):
    session = corun.ClientSession(ca_file=ca)
    check_eq(corun.run(get_text(session, f"{base}/p/20.html")), page_text(20), "parent, before")

    def child():
        async def use_and_close():
            text = await get_text(session, f"{base}/p/21.html")
            await session.close()
            return text

        return corun.run(use_and_close()) == page_text(21)

    pid = os.fork()
    if pid == 0:
        in_child(child)
    check_eq(wait_child(pid, "the inherited session"), 0, "the child's request and close")
    check(not session.closed, "the parent's session is still open")
    check_eq(corun.run(get_text(session, f"{base}/p/22.html")), page_text(22), "parent, after")
    corun.run(session.close())

    wait_until(lambda: connection_of(access_log, "/p/22.html") is not None, "nginx's log line")
    parent_before = connection_of(access_log, "/p/20.html")
    child_conn = connection_of(access_log, "/p/21.html")
    parent_after = connection_of(access_log, "/p/22.html")
    check(child_conn != parent_before, "the child used a connection of its own")
    # Had the child closed the parent's TLS connection (close_notify on the
    # shared socket), nginx would have ended it and the parent reconnected.
    check_eq(parent_after, parent_before, "the parent's next request, on its same connection")


# --- a child's child ----------------------------------------------------------

def grandchild(base, ca):
    def child():
        if not corun.run(page_ok(base, ca, 30)):
            return False
        pid = os.fork()
        if pid == 0:
            in_child(lambda: corun.run(page_ok(base, ca, 31)))
        return wait_child(pid, "the grandchild") == 0 and corun.run(page_ok(base, ca, 32))

    pid = os.fork()
    if pid == 0:
        in_child(child)
    check_eq(wait_child(pid, "the child that forks again"), 0, "child and grandchild")


# --- forks while the loop thread is busy --------------------------------------

def forks_while_busy(base, ca):
    stop = threading.Event()
    errors = []

    def keep_busy():
        async def requests():
            async with corun.ClientSession(ca_file=ca) as s:
                while not stop.is_set():
                    texts = await asyncio.gather(
                        *(get_text(s, f"{base}/p/{n}.html") for n in range(40, 56)),
                        *(corun.sleep(0) for _ in range(50)))
                    if texts[:16] != [page_text(n) for n in range(40, 56)]:
                        errors.append("a wrong page")
        try:
            corun.run(requests())
        except BaseException as e:  # noqa: BLE001 (checked below)
            errors.append(repr(e))

    busy = threading.Thread(target=keep_busy)
    busy.start()
    try:
        time.sleep(0.2)
        for i in range(20):
            pid = os.fork()
            if pid == 0:
                in_child(lambda: corun.run(page_ok(base, ca, 60 + i)))
            check_eq(wait_child(pid, f"fork {i} while busy"), 0, f"fork {i}'s request")
    finally:
        stop.set()
        busy.join(CHILD_DEADLINE)
    check(not busy.is_alive(), "the busy thread finished")
    check_eq(errors, [], "the busy thread's requests")


def main():
    check_sanitizer_loaded()
    with tempfile.TemporaryDirectory() as root:
        write_pages(root, 80)
        with nginx(root, tls=True) as (base, ca, access_log):
            pool_of_forked_workers(base, ca)
            inherited_session(base, ca, access_log)
            grandchild(base, ca)
            if SANITIZED:
                print("test_fork: forks while the loop thread is busy: not run under a "
                      "sanitizer (its allocator is not fork-safe; see the docstring)")
            else:
                forks_while_busy(base, ca)
    print("test_fork: ok")


if __name__ == "__main__":
    main()
