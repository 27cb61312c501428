"""A ClientSession's responses wait for Python in bounded numbers
(python/src/backlog.hpp): with limit=L, at most 4 x L requests are taken up
and not yet handed to Python. Against the local test server:

- a loop that does not take its responses stops the session at the bound
  (the server sees no more requests), and everything completes once it does;
- responses the caller keeps do not hold the bound;
- cancelled requests, requests waiting for a slot, and a loop closed with
  responses still in its mailbox all give their slots back: the session goes
  on serving other loops (a lost slot would show as a bounded wait failing);
- the bound is per event loop: a loop that stops taking its responses
  (blocked in corun.run's portal, or in a blocking call) holds back only its
  own requests, also against a second loop on the same thread; blocking calls
  take no slot;
- closing the session ends requests waiting for a slot;
- a request waiting for a slot holds its arguments only: the request's large
  frame is made once it has one (malloc's bytes in use, per waiting request).
Every wait is bounded: a TimeoutError or an AssertionError, or for get_sync
(which takes no timeout here) the test's own time limit in CMake."""

import asyncio
import ctypes
import gc
import os
import time
import weakref

import corun
from corun import runtime
from support import check, check_eq, page_text, raises, server_stats, test_server, wait_until


def served(base):
    return server_stats(base)["pages_served"]


def held(session, loop):
    """Slots held by requests awaited in loop."""
    return session._native._backlog_state(loop)[1]


def settle(base, what):
    """Waits until the server's page count stops moving for half a second."""
    last = served(base)
    deadline = time.monotonic() + 30
    while True:
        time.sleep(0.5)
        now = served(base)
        if now == last:
            return now
        check(time.monotonic() < deadline, f"the page count to settle ({what})")
        last = now


def bound_holds_while_the_loop_does_not_take(base):
    s = corun.ClientSession(limit=2)
    loop = asyncio.new_event_loop()
    check_eq(s._native._backlog_state(loop), (8, 0), "limit 2: a bound of 8, none held")
    try:
        start = served(base)

        async def start_all():
            # /late: no response can arrive while run_until_complete runs this
            # loop (its last pass delivers what has arrived, which gives a slot back).
            return [asyncio.ensure_future(s.get(f"{base}/late/200/{n}")) for n in range(40)]

        tasks = loop.run_until_complete(start_all())
        # The loop does not run now: nothing is handed to Python.
        wait_until(lambda: served(base) >= start + 8, "the first 8 pages")
        check_eq(settle(base, "a loop that does not take") - start, 8,
                 "requests taken up while the loop does not take its responses")
        check_eq(held(s, loop), 8, "slots held")

        async def finish():
            return await asyncio.wait_for(asyncio.gather(*tasks), 60)

        responses = loop.run_until_complete(finish())
        check_eq(served(base) - start, 40, "every page once the loop takes them")
        for n, r in enumerate(responses):
            check_eq(r.text_sync(), page_text(n), f"page {n}")
        # All 40 responses are still referenced here: they hold no slot.
        wait_until(lambda: held(s, loop) == 0, "every slot back while the responses are kept")
        loop.run_until_complete(s.close())
    finally:
        runtime._forget_loop(loop)
        loop.close()


def slots_come_back_from_a_closed_loop(base):
    s = corun.ClientSession(limit=1)
    loop = asyncio.new_event_loop()
    start = served(base)

    async def start_futures():
        # Bare Futures (no Task awaits them), as a loop closed mid-crawl leaves.
        # /late, as in bound_holds_while_the_loop_does_not_take.
        return [s._native.get(f"{base}/late/200/{n}").start() for n in range(10)]

    futures = loop.run_until_complete(start_futures())
    refs = [weakref.ref(f) for f in futures]
    wait_until(lambda: served(base) >= start + 4, "the first 4 pages")
    check_eq(settle(base, "a stopped loop") - start, 4, "requests taken up (bound 4)")
    runtime._forget_loop(loop)  # what corun.run does before closing a loop
    loop.close()
    # Their 4 responses were never handed over: their slots come back, the
    # other 6 requests run, and their responses are dropped too.
    wait_until(lambda: served(base) == start + 10, "the other 6 requests")
    wait_until(lambda: held(s, loop) == 0, "the slots of a closed loop's responses")
    check_eq(sum(f.done() for f in futures), 0, "a closed loop's Futures stay unsettled")

    async def more():
        rs = await asyncio.wait_for(
            asyncio.gather(*(s.get(f"{base}/page/{n}") for n in range(12))), 60)
        check_eq([await r.text() for r in rs], [page_text(n) for n in range(12)], "pages")
        await s.close()

    asyncio.run(more())
    # Nor does corun keep them: their references went at the first drain
    # after (with the GIL), those of the 4 in the mailbox at close() too.
    del futures
    gc.collect()
    check_eq(sum(r() is not None for r in refs), 0, "a closed loop's Futures kept alive")


async def every_slot_hanging(s, base, page):
    """limit=1 (bound 4): four requests to /hang take every slot; a fifth, to
    /page/<page>, waits for one. Returns (the four, the fifth), once so."""
    hanging = [asyncio.create_task(s.get(base + "/hang")) for _ in range(4)]
    waiting = asyncio.create_task(s.get(f"{base}/page/{page}"))
    await asyncio.sleep(0)  # the tasks start their requests
    loop = asyncio.get_running_loop()
    wait_until(lambda: held(s, loop) == 4, "the hanging requests to hold every slot")
    check(not waiting.done(), "a fifth request waits for a slot")
    return hanging, waiting


def cancelled_requests_give_their_slots_back(base):
    async def main():
        async with corun.ClientSession(limit=1) as s:
            hanging, waiting = await every_slot_hanging(s, base, 3)
            for t in hanging:
                t.cancel()
            for t in hanging:
                with raises(asyncio.CancelledError):
                    await t
            r = await asyncio.wait_for(waiting, 30)
            check_eq(await r.text(), page_text(3), "the waiting request ran")
            # A request cancelled while it waits for a slot gives nothing back
            # twice and takes none.
            hanging = [asyncio.create_task(s.get(base + "/hang")) for _ in range(4)]
            queued = [asyncio.create_task(s.get(base + "/page/4")) for _ in range(3)]
            await asyncio.sleep(0.3)
            for t in queued + hanging:
                t.cancel()
            await asyncio.gather(*queued, *hanging, return_exceptions=True)
            loop = asyncio.get_running_loop()
            wait_until(lambda: held(s, loop) == 0, "every slot back after the cancellations")
            rs = await asyncio.wait_for(
                asyncio.gather(*(s.get(f"{base}/page/{n}") for n in range(8))), 60)
            check_eq([r.status for r in rs], [200] * 8, "the session still serves")

    asyncio.run(main())


class _MallInfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]


def malloc_in_use():
    """Bytes glibc's malloc has handed out and not taken back, every thread's."""
    libc = ctypes.CDLL("libc.so.6")
    libc.mallinfo2.restype = _MallInfo2
    info = libc.mallinfo2()
    return info.uordblks + info.hblkhd


def requests_waiting_for_a_slot_hold_little(base):
    """Each request waiting for a slot held its whole frame (about 1.3 KB, the
    options, the Response, the awaiters) before: 2.1 KB of malloc a request in
    all, 0.75 KB since (a gather of 100,000 URLs: 130 MB less)."""
    n = 4000
    if os.environ.get("CORUN_SANITIZER_PRELOAD"):
        # The sanitizer's allocator serves malloc there: glibc's statistics do not see it.
        print("backlog: memory per waiting request not measured under a sanitizer "
              "(the release build's run measures it)")
        return

    async def main():
        async with corun.ClientSession(limit=1) as s:
            hanging, waiting = await every_slot_hanging(s, base, 1)
            gc.collect()
            before = malloc_in_use()
            calls = [s.get(f"{base}/page/{k % 50}") for k in range(n)]
            made = malloc_in_use()
            tasks = [asyncio.ensure_future(c) for c in calls]
            await asyncio.sleep(0)  # every task submits its request, then this loop blocks
            # The loop thread takes the n submissions in: wait until malloc's count settles.
            last, deadline = malloc_in_use(), time.monotonic() + 30
            while True:
                time.sleep(0.3)
                now = malloc_in_use()
                if now == last:
                    break
                check(time.monotonic() < deadline, "malloc's count to settle")
                last = now
            check_eq(held(s, asyncio.get_running_loop()), 4, "the hanging requests hold every slot")
            per_call = (made - before) / n
            per_waiting = (last - made) / n
            print(f"backlog: malloc per get() {per_call:.0f} B, per waiting request "
                  f"{per_waiting:.0f} B")
            # The calls themselves show up: malloc's statistics see corun's allocations.
            check(per_call > 100, f"malloc statistics see the calls ({per_call:.0f} B each)")
            check(per_waiting < 1300,
                  f"a request waiting for a slot holds {per_waiting:.0f} B (its frame made early?)")
            for t in tasks + hanging + [waiting]:
                t.cancel()
            await asyncio.gather(*tasks, *hanging, waiting, return_exceptions=True)

    asyncio.run(main())


def closing_ends_requests_waiting_for_a_slot(base):
    async def main():
        s = corun.ClientSession(limit=1)
        hanging, waiting = await every_slot_hanging(s, base, 5)
        await asyncio.wait_for(s.close(), 30)
        done, _ = await asyncio.wait(hanging + [waiting], timeout=30)
        check_eq(len(done), 5, "every request ended by close()")
        with raises(RuntimeError, "Session is closed"):
            waiting.result()
        for t in hanging:
            check(t.exception() is not None, "a transfer stopped by close() fails")

    asyncio.run(main())


def a_blocked_loop_holds_back_only_its_own_requests(base):
    s = corun.ClientSession(limit=1)  # bound 4 per thread

    async def inner(n):
        # corun.run's portal: another thread, another loop, the same session.
        rs = await asyncio.wait_for(
            asyncio.gather(*(s.get(f"{base}/page/{k}") for k in range(n))), 60)
        return [await r.text() for r in rs]

    async def outer():
        start = served(base)
        tasks = [asyncio.create_task(s.get(f"{base}/page/{n}")) for n in range(30)]
        await asyncio.sleep(0)  # the requests start
        # This loop now blocks: its responses are not taken, its requests stop at 4.
        wait_until(lambda: served(base) >= start + 4, "this loop's first 4 pages")
        check_eq(settle(base, "a blocked loop") - start, 4, "this loop's requests held back")
        # A blocking call takes no slot: it runs while this loop's are all taken.
        check_eq(s.get_sync(base + "/page/9").text_sync(), page_text(9), "get_sync")
        # Another loop (corun.run's portal thread) is not held back by this one.
        check_eq(corun.run(inner(10)), [page_text(k) for k in range(10)], "the portal's pages")
        rs = await asyncio.wait_for(asyncio.gather(*tasks), 60)
        check_eq([await r.text() for r in rs], [page_text(n) for n in range(30)], "this loop's")
        await s.close()

    asyncio.run(outer())


def a_second_loop_on_the_same_thread_is_not_held_back(base):
    s = corun.ClientSession(limit=1)  # bound 4 per loop
    first = asyncio.new_event_loop()
    start = served(base)

    async def start_many():
        return [asyncio.ensure_future(s.get(f"{base}/page/{n}")) for n in range(12)]

    tasks = first.run_until_complete(start_many())
    wait_until(lambda: served(base) >= start + 4, "the first loop's 4 pages")
    # The first loop is neither run nor closed; a second one runs on this thread.

    async def second():
        rs = await asyncio.wait_for(
            asyncio.gather(*(s.get(f"{base}/page/{n}") for n in range(6))), 60)
        return [await r.text() for r in rs]

    check_eq(asyncio.run(second()), [page_text(n) for n in range(6)], "the second loop's pages")
    rs = first.run_until_complete(asyncio.wait_for(asyncio.gather(*tasks), 60))
    check_eq([r.text_sync() for r in rs], [page_text(n) for n in range(12)], "the first loop's")
    first.run_until_complete(s.close())
    runtime._forget_loop(first)
    first.close()


def no_bound_without_a_limit(base):
    async def main():
        async with corun.ClientSession(limit=0) as s:
            check_eq(s._native._backlog_state(asyncio.get_running_loop()), (0, 0),
                     "limit 0: no bound")
            rs = await asyncio.gather(*(s.get(f"{base}/page/{n}") for n in range(20)))
            check_eq([r.status for r in rs], [200] * 20, "pages")

    asyncio.run(main())


def main():
    with test_server() as base:
        bound_holds_while_the_loop_does_not_take(base)
        slots_come_back_from_a_closed_loop(base)
        cancelled_requests_give_their_slots_back(base)
        closing_ends_requests_waiting_for_a_slot(base)
        requests_waiting_for_a_slot_hold_little(base)
        a_blocked_loop_holds_back_only_its_own_requests(base)
        a_second_loop_on_the_same_thread_is_not_held_back(base)
        no_bound_without_a_limit(base)
    print("backlog: ok")


if __name__ == "__main__":
    main()
