"""corun.run / corun.run_or_schedule in a plain process, without a server:
asyncio.run's behaviour with no loop running; the portal inside a running
loop (asyncio's own, as an application's callback would have it); what
cannot work failing at once; the IPython extension's asyncio.run routing."""

import asyncio
import gc
import types
import warnings
import contextvars
import os
import threading
import traceback

import pytest

import corun
from corun import runner


async def answer(x):
    await asyncio.sleep(0)
    return x * 2


def test_no_loop_is_asyncio_run():
    assert corun.run(answer(21)) == 42
    # A new loop each time, closed after; leftovers cancelled, executor shut down.
    seen = {}

    async def main():
        seen["loop"] = asyncio.get_running_loop()
        seen["left"] = asyncio.ensure_future(asyncio.sleep(30))
        await asyncio.get_running_loop().run_in_executor(None, lambda: None)
        return "done"

    assert corun.run(main()) == "done"
    assert seen["loop"].is_closed()
    assert seen["left"].cancelled()


def test_no_loop_debug_and_loop_factory():
    made = []

    def factory():
        loop = asyncio.new_event_loop()
        made.append(loop)
        return loop

    async def main():
        return asyncio.get_running_loop().get_debug()

    assert corun.run(main(), debug=True, loop_factory=factory) is True
    assert len(made) == 1 and made[0].is_closed()


def test_bad_arguments():
    async def main():
        return 1

    with pytest.raises(ValueError, match=r"call the async function: corun\.run\(main\(\)\)"):
        corun.run(main)
    with pytest.raises(ValueError, match="coroutine"):
        corun.run_or_schedule(main)

    # A plain generator is refused up front (Python 3.11's asyncio.iscoroutine
    # takes it, and it failed later with "Task got bad yield").
    def gen():
        yield 1
    with pytest.raises(ValueError, match="a generator is not a coroutine: define the function "
                                         "with 'async def'"):
        corun.run(gen())
    with pytest.raises(ValueError, match="a generator is not a coroutine"):
        corun.run_or_schedule(gen())

    # A generator-based coroutine (@types.coroutine) is still one.
    @types.coroutine
    def old_style():
        yield from asyncio.sleep(0).__await__()
        return 7
    assert corun.run(old_style()) == 7

    async def a_task():
        task = asyncio.ensure_future(main())
        with pytest.raises(ValueError, match="a Task is awaited, not run"):
            corun.run(task)
        return await task
    assert asyncio.run(a_task()) == 1
    # A refused call closes the coroutine it was given: no "never awaited" warning.
    with warnings.catch_warnings(record=True) as shown:
        warnings.simplefilter("always")
        with pytest.raises(TypeError, match="'loop_factory'"):
            corun.run(main(), loop_factory=3)
        gc.collect()
    assert [str(w.message) for w in shown if "never awaited" in str(w.message)] == []


def test_debug_takes_any_truthy_value_as_asyncio_run():
    async def main():
        return asyncio.get_running_loop().get_debug()

    assert corun.run(main(), debug=1) is True
    assert corun.run(main(), debug=0) is False
    assert corun.run(main()) == asyncio.run(main())


def in_running_loop(fn):
    """fn() called from a callback of a running asyncio loop (as an
    application's loop, a notebook cell or the asyncio REPL would)."""
    async def host():
        return fn()
    return asyncio.run(host())


def test_inside_a_running_loop_runs_on_a_helper_thread():
    caller = threading.get_ident()

    async def main():
        await asyncio.sleep(0.01)
        return threading.get_ident(), asyncio.get_running_loop()

    def call():
        outer = asyncio.get_running_loop()
        ident, loop = corun.run(main())
        return outer, ident, loop

    outer, ident, loop = in_running_loop(call)
    assert ident != caller
    assert loop is not outer and loop.is_closed()


def test_portal_result_exception_and_traceback():
    async def fails():
        await asyncio.sleep(0)
        raise KeyError("boom")

    def call():
        with pytest.raises(KeyError) as info:
            corun.run(fails())
        return info.value

    error = in_running_loop(call)
    frames = [f.name for f in traceback.extract_tb(error.__traceback__)]
    assert "fails" in frames  # the original traceback, down to where it was raised


def test_portal_in_a_task_that_handled_a_cancellation_before():
    # A task that swallowed a cancel() keeps cancelling() at 1 (aiohttp 3.8's
    # timeouts leave it so): corun.run() there must run, not raise
    # CancelledError as if a Ctrl-C had cancelled the caller.
    async def main():
        waiter = asyncio.ensure_future(asyncio.sleep(30))
        asyncio.current_task().cancel()
        try:
            await asyncio.sleep(1)
        except asyncio.CancelledError:
            pass  # handled
        waiter.cancel()
        assert asyncio.current_task().cancelling() == 1
        return corun.run(answer(21))

    assert asyncio.run(main()) == 42


def test_portal_copies_the_callers_context():
    var = contextvars.ContextVar("var")

    async def read():
        return var.get()

    def call():
        var.set("caller's")
        return corun.run(read())

    assert in_running_loop(call) == "caller's"


def test_portal_with_corun_calls_and_loop_factory():
    made = []

    def factory():
        made.append(asyncio.new_event_loop())
        return made[-1]

    async def main():
        return await corun.sleep(0.01, "slept")

    assert in_running_loop(lambda: corun.run(main(), loop_factory=factory)) == "slept"
    assert len(made) == 1 and made[0].is_closed()


def test_cross_loop_misuse_fails_at_once_with_what_to_write():
    def call():
        outer_future = asyncio.get_running_loop().create_future()

        async def wait_for_it():
            return await outer_future

        with pytest.raises(RuntimeError) as info:
            corun.run(wait_for_it())
        return info.value

    error = in_running_loop(call)
    text = str(error)
    assert text.startswith("corun.run(): the coroutine awaited Future <Future pending")
    assert "create it inside the coroutine you pass to corun.run(), or await the coroutine " \
        "directly" in text
    assert "attached to a different loop" in str(error.__cause__)


def test_cross_loop_lock_misuse():
    async def host():
        lock = asyncio.Lock()
        await lock.acquire()
        # A waiter binds the lock to this loop (asyncio binds on first wait).
        waiter = asyncio.ensure_future(lock.acquire())
        await asyncio.sleep(0)

        async def take():
            async with lock:
                pass

        with pytest.raises(RuntimeError) as info:
            corun.run(take())
        waiter.cancel()
        lock.release()
        return info.value

    error = asyncio.run(host())
    assert "is bound to a different event loop" in str(error.__cause__)
    assert str(error).startswith("corun.run(): the coroutine awaited <asyncio.locks.Lock")
    assert "create it inside the coroutine you pass to corun.run()" in str(error)


def test_nested_run_raises_instead_of_deadlocking():
    async def inner():
        return 1

    async def outer():
        with pytest.raises(RuntimeError, match="inside a coroutine that corun.run"):
            corun.run(inner())
        return "refused"

    assert corun.run(outer()) == "refused"  # no loop: nested in asyncio.run's twin
    assert in_running_loop(lambda: corun.run(outer())) == "refused"  # on the portal


def test_run_or_schedule():
    assert corun.run_or_schedule(answer(5)) == 10

    async def host():
        task = corun.run_or_schedule(answer(6))
        assert isinstance(task, asyncio.Task)
        done = []
        task.add_done_callback(lambda t: done.append(t.result()))
        assert await task == 12
        await asyncio.sleep(0)
        return done

    assert asyncio.run(host()) == [12]


def test_many_runs_leak_no_thread_and_no_descriptor():
    async def main(i):
        await corun.sleep(0)
        return i

    def count():
        return threading.active_count(), len(os.listdir("/proc/self/fd"))

    def many():
        return [corun.run(main(i)) for i in range(300)]

    in_running_loop(many)  # warm up (the C++ loop thread, the default executor)
    before = count()
    assert in_running_loop(many) == list(range(300))
    assert [corun.run(main(i)) for i in range(300)] == list(range(300))
    assert count() == before


def test_ipython_extension_routes_asyncio_run_inside_a_running_loop(capsys):
    original = asyncio.run

    async def job():
        return threading.get_ident()

    def library_function():  # a third-party library calling asyncio.run
        coro = job()
        try:
            return asyncio.run(coro)
        except RuntimeError:
            coro.close()  # refused by asyncio: never started
            raise

    with pytest.raises(RuntimeError, match="cannot be called from a running event loop"):
        in_running_loop(library_function)
    corun.load_ipython_extension(None)
    try:
        assert asyncio.run is not original
        assert in_running_loop(library_function) != threading.get_ident()
        in_running_loop(library_function)
        said = capsys.readouterr().err
        assert said.count("corun: asyncio.run() was called inside") == 1
        # No loop running: asyncio's own asyncio.run.
        assert asyncio.run(job()) == threading.get_ident()
    finally:
        corun.unload_ipython_extension(None)
    assert asyncio.run is original
    with pytest.raises(RuntimeError, match="cannot be called from a running event loop"):
        in_running_loop(library_function)
    assert runner._original_asyncio_run is None
