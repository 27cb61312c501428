"""The running loop start() binds a call to (python/src/runtime.cpp's
running_loop, which on CPython 3.11 reads asyncio's holder in the thread state
instead of calling asyncio.get_running_loop and its getpid): it must answer
what asyncio answers. No loop: RuntimeError. Loops on other threads: each
thread its own. A child forked inside a running loop: no running loop there
(asyncio's rule; the parent's loop would never settle the child's Future).
Every wait is bounded, so a completion sent to the wrong loop shows as a
TimeoutError, not a hang."""

import asyncio
import os
import threading

import pytest

import corun
from corun import _corun, runtime


async def slept(tag):
    return await asyncio.wait_for(corun.sleep(0.001, tag), 10)


def test_no_running_loop_is_a_runtime_error():
    call = _corun._sleep(0.001)
    with pytest.raises(RuntimeError, match="no running event loop"):
        call.start()


def test_after_a_loop_stopped_there_is_none_again():
    assert asyncio.run(slept("ran")) == "ran"
    with pytest.raises(RuntimeError, match="no running event loop"):
        _corun._sleep(0.001).start()


def test_loops_on_several_threads_each_get_their_own():
    results, errors = {}, []

    def worker(n):
        loop = asyncio.new_event_loop()
        try:
            async def many():
                # Interleave with the other threads' loops.
                return [await slept((n, i)) for i in range(20)]
            results[n] = loop.run_until_complete(many())
        except BaseException as e:  # noqa: BLE001 (reported below)
            errors.append(e)
        finally:
            runtime._forget_loop(loop)
            loop.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert results == {n: [(n, i) for i in range(20)] for n in range(4)}


def test_a_child_forked_inside_a_running_loop_has_no_running_loop():
    async def fork_here():
        await slept("warm")  # a call on this loop works before the fork
        pid = os.fork()
        if pid == 0:
            try:
                _corun._sleep(0.001).start()
                code = 1  # bound to the parent's loop: what asyncio says cannot be
            except RuntimeError as e:
                code = 0 if "no running event loop" in str(e) else 2
            except BaseException:  # noqa: BLE001
                code = 3
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        return os.waitstatus_to_exitcode(status)

    assert asyncio.run(fork_here()) == 0
    # And the parent is unaffected.
    assert asyncio.run(slept("after")) == "after"
