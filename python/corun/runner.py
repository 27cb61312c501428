"""corun.run() and corun.run_or_schedule(): run any coroutine from anywhere,
the Python twins of C++'s corun::run / run_or_schedule (docs/environments.md).

    corun.run(main(urls))

- No event loop running in this thread (a script, a thread, the plain REPL):
  exactly asyncio.run (through asyncio.Runner: a new loop, the coroutine run
  to completion, what is left cancelled, async generators finished, the
  default executor shut down, the loop closed; Ctrl-C cancels the coroutine
  and raises KeyboardInterrupt). loop_factory= as asyncio.Runner's (uvloop).
- A loop already running in this thread (a Jupyter cell, `python -m asyncio`,
  IPython's autoawait, a callback of an application's loop): the same, on a
  helper thread (a "portal"): a fresh loop there runs the coroutine while
  the calling thread blocks, then the result is returned or the exception
  raised with its original traceback. The running loop is not re-entered and
  asyncio is not patched; that loop simply waits, as during any blocking call.
  Ctrl-C (a notebook's stop button) while it blocks cancels the coroutine,
  which sees CancelledError where it waits and can clean up; then
  KeyboardInterrupt is raised, as asyncio.run does.

What cannot work fails at once with a message saying what to write instead:
a Future, Task, Lock, ... of the caller's loop awaited by the coroutine (the
caller's loop is blocked: it could never complete), and corun.run() called
from inside a coroutine that corun.run() is running (blocking its own loop).

The IPython extension (%load_ext corun) routes asyncio.run() called inside a
running loop through the same portal, for that kernel: the safe replacement
for nest_asyncio.apply().
"""

import asyncio as _asyncio
import contextvars as _contextvars
import inspect as _inspect
import re as _re
import signal as _signal
import sys as _sys
import threading as _threading
import types as _types
import weakref as _weakref

from . import runtime as _runtime

__all__ = ["run", "run_or_schedule", "load_ipython_extension", "unload_ipython_extension"]

# How long run() waits, after an interrupt, for the cancelled coroutine to
# finish cleaning up before it raises KeyboardInterrupt anyway (a second
# Ctrl-C stops waiting at once). The coroutine goes on cleaning up on the
# helper thread if it needs longer.
_CLEANUP_WAIT = 30.0
# How often the blocked caller looks whether its own task was cancelled by a
# signal handler (KeyboardInterrupt itself interrupts the wait at once).
_SIGNAL_SLICE = 0.1

# The loops run() created and is running: a call to run() from one of them is
# a call from inside a coroutine run() is running.
_own_loops = _weakref.WeakSet()
_portal_thread = _threading.local()  # .active on the helper threads

_MISUSE_HINT = ("create it inside the coroutine you pass to corun.run(), or await the "
                "coroutine directly")


def _not_a_coroutine(func, coro):
    # asyncio.run's error, with the same type, and what to do instead.
    func = f"corun.{func}"
    if isinstance(coro, _asyncio.Future):  # a Task or a Future: already scheduled
        hint = (f"a {type(coro).__name__} is awaited, not run: await it inside the "
                f"coroutine you pass to {func}()")
    elif isinstance(coro, _types.GeneratorType):
        hint = (f"a generator is not a coroutine: define the function with 'async def' "
                f"and pass what it returns, {func}(main())")
    elif callable(coro):
        hint = f"call the async function: {func}(main()), not {func}(main)"
    else:
        hint = f"pass the coroutine an async function returns: {func}(main())"
    return ValueError(f"{func}() needs a coroutine ({hint}), got {coro!r}")


def _is_coroutine(coro):
    # asyncio.iscoroutine, less Python 3.11's plain generators (3.12 refuses
    # them too): one failed later, with "Task got bad yield", or another error
    # in each environment. A @types.coroutine generator is still one.
    if isinstance(coro, _types.GeneratorType):
        return bool(coro.gi_code.co_flags & _inspect.CO_ITERABLE_COROUTINE)
    return _asyncio.iscoroutine(coro)


def _check_args(func, coro, debug, loop_factory):
    """Returns debug as the loop takes it (any truthy value, as asyncio.run)."""
    if not _is_coroutine(coro):
        raise _not_a_coroutine(func, coro)
    if loop_factory is not None and not callable(loop_factory):
        coro.close()  # never started: no "was never awaited" warning
        raise TypeError(f"corun.{func}() argument 'loop_factory' must be callable or None, "
                        f"not {type(loop_factory).__name__}")
    return None if debug is None else bool(debug)


def _running_loop():
    # asyncio's low-level getter: None rather than an exception to catch.
    return _asyncio._get_running_loop()


def _refuse_nested(coro):
    coro.close()  # never started: no "was never awaited" warning
    raise RuntimeError(
        "corun.run() was called from inside a coroutine that corun.run() is running: "
        "blocking there would stop the very loop that coroutine runs on. Inside a "
        "coroutine, await the other coroutine instead of calling corun.run().")


def run(coro, *, debug=None, loop_factory=None):
    """Runs coro to completion and returns its result, with or without an
    event loop running in this thread (see the module's docstring)."""
    debug = _check_args("run", coro, debug, loop_factory)
    loop = _running_loop()
    if getattr(_portal_thread, "active", False) or (loop is not None and loop in _own_loops):
        _refuse_nested(coro)
    context = _contextvars.copy_context()
    if loop is None:
        return _run_here(coro, debug, loop_factory, context)
    return _run_on_portal(coro, debug, loop_factory, context)


def run_or_schedule(coro):
    """The adaptive strategy as one call: with a loop running in this thread,
    schedules coro there (loop.create_task) and returns the asyncio.Task (await
    it, or add_done_callback); with none, runs it to completion (run(coro)) and
    returns its result."""
    if not _is_coroutine(coro):
        raise _not_a_coroutine("run_or_schedule", coro)
    loop = _running_loop()
    if loop is None:
        return run(coro)
    return loop.create_task(coro)


def _run_here(coro, debug, loop_factory, context):
    # asyncio.run, with the loop known as run()'s own while it runs.
    runner = _asyncio.Runner(debug=debug, loop_factory=loop_factory)
    loop = None
    try:
        loop = runner.get_loop()
        _own_loops.add(loop)
        return runner.run(coro, context=context)
    finally:
        try:
            runner.close()
        finally:
            if loop is not None:
                _own_loops.discard(loop)
                _runtime._forget_loop(loop)


class _Portal:
    """One run() on a helper thread: its loop, its task, its outcome."""

    def __init__(self, coro, debug, loop_factory, context):
        self._coro = coro
        self._debug = debug
        self._loop_factory = loop_factory
        self._context = context
        self._lock = _threading.Lock()
        self._loop = None
        self._task = None
        self._cancel_requested = False
        self.finished = _threading.Event()
        self.result = None
        self.error = None
        self.thread = _threading.Thread(target=self._main, name="corun.run portal", daemon=True)

    def _main(self):
        _portal_thread.active = True
        runner = None
        loop = None
        try:
            runner = _asyncio.Runner(debug=self._debug, loop_factory=self._loop_factory)
            loop = runner.get_loop()
            _own_loops.add(loop)
            self.result = runner.run(self._wrapped(), context=self._context)
        except BaseException as e:  # noqa: BLE001 (handed to the caller)
            self.error = e
        finally:
            try:
                if runner is not None:
                    runner.close()
            except BaseException as e:  # noqa: BLE001 (handed to the caller)
                if self.error is None:
                    self.error = e
            finally:
                if loop is not None:
                    _own_loops.discard(loop)
                    _runtime._forget_loop(loop)
                self._coro = None
                self.finished.set()

    async def _wrapped(self):
        with self._lock:
            self._loop = _asyncio.get_running_loop()
            self._task = _asyncio.current_task()
            cancel = self._cancel_requested
        if cancel:
            self._coro.close()
            raise _asyncio.CancelledError()
        return await self._coro

    def cancel(self):
        """Any thread: cancels the coroutine (now, or as soon as it starts)."""
        with self._lock:
            self._cancel_requested = True
            loop, task = self._loop, self._task
        if loop is not None:
            try:
                loop.call_soon_threadsafe(task.cancel)
            except RuntimeError:
                pass  # its loop has closed: it is finished


def _cancelling(task):
    return task.cancelling() if task is not None else 0


def _caller_cancelled(task, before):
    # The caller's own task was cancelled while it blocked: only a signal
    # handler can have done that (its loop is blocked), e.g. asyncio.run's
    # SIGINT handler, which cancels the main task instead of raising. Counted
    # from the call: a cancellation the task handled before it (aiohttp 3.8's
    # timeouts leave the count at 1) is not one.
    return _cancelling(task) > before


def _sigint_guard(only_if_not_cancelled):
    """While a call blocks the main thread, a SIGINT handler that only
    schedules work on that thread's loop (ipykernel's in a cell with an await,
    a host's own) can do nothing before the call returns: the Ctrl-C would be
    lost. Such a handler is wrapped: it still runs, then
      - if it raised, that goes on;
      - if it cancelled the calling task (asyncio.run's handler cancels its
        main task) and only_if_not_cancelled, nothing more: the caller sees
        its task cancelled;
      - if it cancelled another task of the loop (asyncio.run's main task,
        awaiting this one through wait_for or a TaskGroup), CancelledError is
        raised here, so the cancellation goes up to it;
      - otherwise KeyboardInterrupt is raised, as Python's own handler does.
    Returns the function that puts the handler back, or None when nothing was
    wrapped (not the main thread, Python's own handler, SIGINT ignored or the
    default, or a handler the application gave loop.add_signal_handler: it
    runs once the call returns)."""
    if _threading.current_thread() is not _threading.main_thread():
        return None
    previous = _signal.getsignal(_signal.SIGINT)
    if previous is _signal.default_int_handler or not callable(previous):
        return None
    if (getattr(previous, "__name__", None) == "_sighandler_noop"
            or isinstance(getattr(previous, "__self__", None), _asyncio.AbstractEventLoop)):
        # loop.add_signal_handler's (asyncio's, uvloop's): the application said
        # what Ctrl-C does, on its loop; that runs once the call returns.
        return None
    loop = _asyncio._get_running_loop()
    task = _asyncio.current_task() if loop is not None else None
    before = _cancelling(task)

    def cancellations():
        return sum(t.cancelling() for t in _asyncio.all_tasks(loop)) if loop is not None else 0

    def on_sigint(signum, frame):
        others = cancellations()
        previous(signum, frame)
        if only_if_not_cancelled and _cancelling(task) > before:
            return
        if cancellations() > others:
            raise _asyncio.CancelledError
        raise KeyboardInterrupt

    _signal.signal(_signal.SIGINT, on_sigint)

    def restore():
        if _signal.getsignal(_signal.SIGINT) is on_sigint:
            _signal.signal(_signal.SIGINT, previous)

    return restore


def _sigint_guard_for_wait():
    """_sigint_guard for a blocking call (a *_sync twin) made while a loop
    runs on this thread: a handler of that loop's cannot act before the call
    returns. (Without a running loop the handler is left alone: a program's
    own, e.g. one that sets a flag, works as it did.)"""
    if _asyncio._get_running_loop() is None:
        return None
    return _sigint_guard(False)


def _run_on_portal(coro, debug, loop_factory, context):
    restore = _sigint_guard(True)
    try:
        return _run_on_portal_guarded(coro, debug, loop_factory, context)
    finally:
        if restore is not None:
            restore()


def _run_on_portal_guarded(coro, debug, loop_factory, context):
    caller_task = _asyncio.current_task()
    cancelling_before = _cancelling(caller_task)
    portal = _Portal(coro, debug, loop_factory, context)
    interrupt = None
    try:
        # Inside the try: a Ctrl-C as soon as the thread has started still
        # cancels the coroutine (before it starts, if need be).
        portal.thread.start()
        while not portal.finished.wait(_SIGNAL_SLICE):
            if _caller_cancelled(caller_task, cancelling_before):
                interrupt = _asyncio.CancelledError
                break
    except KeyboardInterrupt:
        interrupt = KeyboardInterrupt
    except _asyncio.CancelledError:
        interrupt = _asyncio.CancelledError  # from _sigint_guard: another task was cancelled
    if interrupt is not None:
        portal.cancel()
        try:
            if portal.thread.ident is not None:  # started: it will finish
                portal.finished.wait(_CLEANUP_WAIT)
        except KeyboardInterrupt:
            interrupt = KeyboardInterrupt  # a second Ctrl-C: stop waiting for the cleanup
        except _asyncio.CancelledError:
            pass  # (the same, from _sigint_guard): the first interrupt is raised
        if portal.finished.is_set():
            portal.thread.join()
        portal.error = portal.result = None
        raise interrupt()
    portal.thread.join()
    error, portal.error = portal.error, None
    if error is None:
        result, portal.result = portal.result, None
        return result
    try:
        misuse = _cross_loop_misuse(error)
        if misuse is not None:
            raise misuse from error
        raise error
    finally:
        error = None


_FOREIGN_OBJECT = [
    _re.compile(r"got (Future .*) attached to a different loop", _re.S),
    _re.compile(r"^(.*) is bound to a different event loop", _re.S),
    _re.compile(r"^(.*) attached to a different loop", _re.S),
]


def _cross_loop_misuse(error):
    """The RuntimeError to raise instead of error when error is asyncio's
    complaint about an object of another loop; else None."""
    if type(error) is not RuntimeError:
        return None
    text = str(error)
    for pattern in _FOREIGN_OBJECT:
        m = pattern.search(text)
        if m:
            what = m.group(1)
            return RuntimeError(
                f"corun.run(): the coroutine awaited {what}, which belongs to the event loop "
                f"that was running when corun.run() was called. That loop is blocked until "
                f"corun.run() returns (the coroutine runs on a loop of its own on a helper "
                f"thread), so the object can never complete there: {_MISUSE_HINT}.")
    return None


# --- the IPython extension: %load_ext corun -------------------------------------

_original_asyncio_run = None
_told = False


def _asyncio_run_via_corun(main, *, debug=None, **kwargs):
    """asyncio.run while %load_ext corun is active: corun.run's portal inside a
    running loop (instead of "asyncio.run() cannot be called from a running
    event loop"), asyncio's own asyncio.run everywhere else."""
    global _told
    loop = _running_loop()
    if loop is None or loop in _own_loops or getattr(_portal_thread, "active", False):
        return _original_asyncio_run(main, debug=debug, **kwargs)
    if kwargs:
        raise TypeError(f"asyncio.run() got unexpected keyword arguments {sorted(kwargs)}")
    if not _told:
        _told = True
        print("corun: asyncio.run() was called inside this kernel's running event loop; it "
              "runs on a helper loop through corun.run() (%load_ext corun). "
              "%unload_ext corun restores asyncio.run.", file=_sys.stderr)
    return run(main, debug=debug)


def load_ipython_extension(ipython):
    """%load_ext corun: asyncio.run() inside the kernel's running loop goes
    through corun.run() instead of raising."""
    global _original_asyncio_run, _told
    if _original_asyncio_run is None:
        _original_asyncio_run = _asyncio.run
        _told = False
        _asyncio.run = _asyncio_run_via_corun


def unload_ipython_extension(ipython):
    """%unload_ext corun: asyncio.run is asyncio's again."""
    global _original_asyncio_run
    if _original_asyncio_run is not None:
        if _asyncio.run is _asyncio_run_via_corun:
            _asyncio.run = _original_asyncio_run
        _original_asyncio_run = None
