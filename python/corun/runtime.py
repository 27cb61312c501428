"""How C++ work reaches Python: the loop thread, completions delivered to the
caller's asyncio loop, and sleep.

The work runs on one C++ event loop thread (libuv + libcurl), started on first
use and stopped at interpreter exit. Every coroutine function of the package
returns a coroutine that, once awaited, submits its work and waits on an
asyncio Future of the caller's running loop (asyncio, uvloop, a Jupyter
kernel: whichever it is); cancelling it cancels the C++ work. Every one has a
blocking twin named *_sync, for code with no loop and also for code inside a
running loop (it blocks that thread; Ctrl-C cancels the work).

The C++ side (python/src/runtime.cpp) calls _mailbox and _deliver below.
"""

import atexit as _atexit
import weakref as _weakref

from . import _corun
from ._args import check_seconds as _check_seconds

__all__ = ["sleep", "sleep_sync"]

_atexit.register(_corun._shutdown)

_mailboxes = _weakref.WeakKeyDictionary()  # asyncio loop -> _corun._Mailbox


def _mailbox(loop):
    # The _Mailbox through which C++ completions reach loop: an eventfd the
    # loop watches. None when the loop cannot watch file descriptors (then
    # each completion comes through call_soon_threadsafe, see _deliver).
    box = _mailboxes.get(loop)
    if box is None:
        box = _corun._Mailbox()
        try:
            loop.add_reader(box.fd, box.drain)
        except (NotImplementedError, AttributeError):
            return None
        _mailboxes[loop] = box
    return box


def _deliver(loop, settle, future):
    # Called by the C++ loop thread (GIL held) when the work behind future is
    # done: settle(future) will run on future's loop. A Python frame here on
    # purpose: uvloop's debug mode records the caller's stack in
    # call_soon_threadsafe and fails on a thread that has no Python frame.
    try:
        loop.call_soon_threadsafe(settle, future)
    except RuntimeError:
        if not loop.is_closed():
            raise
        # The loop is closed (asyncio.run() ended): nobody awaits this any more.


def _forget_loop(loop):
    # A loop about to close (corun.run's own loops): stop watching its mailbox
    # now, so its eventfd is closed with it rather than when the loop object
    # is collected.
    box = _mailboxes.pop(loop, None)
    if box is not None:
        try:
            loop.remove_reader(box.fd)
        except (NotImplementedError, AttributeError, RuntimeError):
            pass
        box.close()


def sleep(delay, result=None):
    """asyncio.sleep on corun's loop thread: awaitable from any asyncio loop."""
    delay = _check_seconds("sleep", "delay", delay, none=False)
    return _sleep_then(_corun._sleep(delay), result)


async def _sleep_then(call, result):
    await call.start()
    return result


def sleep_sync(delay, result=None):
    """Blocks for delay seconds on corun's loop thread (Ctrl-C interrupts)."""
    delay = _check_seconds("sleep_sync", "delay", delay, none=False)
    _corun._sleep(delay).wait()
    return result


def _loop_thread_running():
    """True once the loop thread was started and until interpreter exit (for tests)."""
    return _corun._loop_thread_running()
