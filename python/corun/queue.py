"""corun.enqueue and corun.collect: the producer and the report writer of the
shared crawl (docs/scale-out.md), and their results. Its workers are
corun.fetch(queue=...) (python/corun/fetch.py); python/src/fetch_binding.cpp
is the C++ half of all three."""

from . import _corun
from ._args import check_bool as _check_bool
from ._args import check_int as _check_int
from ._args import check_number as _check_number
from ._args import check_str as _check_str
from ._args import type_error as _type_error
from .fetch import _checked_options, _path_arg, _queue_arg, _resolve_aliases

__all__ = ["CollectResult", "EnqueueResult", "collect", "collect_sync", "enqueue",
           "enqueue_sync"]

_ENQUEUE_DEFAULTS = _corun._enqueue_defaults
# Lines per batch handed to the C++ producer (it adds them 500 per atomic step).
_ENQUEUE_BATCH = 1000


class EnqueueResult:
    """What corun.enqueue did: lines (input lines read by this run, skipped ones
    included), resumed (lines skipped: an earlier run with the same
    input_name had added them), added (URLs new to the crawl), duplicates (URLs
    the crawl had already)."""

    __slots__ = ("lines", "resumed", "added", "duplicates")

    def __init__(self, lines=0, resumed=0, added=0, duplicates=0):
        self.lines = lines
        self.resumed = resumed
        self.added = added
        self.duplicates = duplicates

    def __repr__(self):
        return (f"<EnqueueResult lines={self.lines} added={self.added} "
                f"duplicates={self.duplicates} resumed={self.resumed}>")

    def __eq__(self, other):
        if not isinstance(other, EnqueueResult):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.__slots__)


class CollectResult:
    """What corun.collect did: written (records this run appended to the
    report), done and failed (the whole crawl's counts when it finished),
    warnings (what the collector met, one line each, as a worker's
    FetchResults.warnings: Redis unreachable, which it waited out, and
    reachable again); ok is True when no URL failed."""

    __slots__ = ("written", "done", "failed", "warnings")

    def __init__(self, written=0, done=0, failed=0, warnings=()):
        self.written = written
        self.done = done
        self.failed = failed
        self.warnings = list(warnings)

    @property
    def ok(self):
        return self.failed == 0

    def __repr__(self):
        return f"<CollectResult written={self.written} done={self.done} failed={self.failed}>"


def _uuid4():
    # uuid, imported on first use (it is a cost of every `import corun`).
    import uuid

    return uuid.uuid4()


def _enqueue_call(func, urls, urls_file, spelled, *, queue, base_url=None,
                  replace_settings=False, high_water=_ENQUEUE_DEFAULTS["high_water"],
                  lease=_ENQUEUE_DEFAULTS["lease"],
                  max_deliveries=_ENQUEUE_DEFAULTS["max_deliveries"], input_name=None,
                  **crawl_settings):
    queue = _queue_arg(func, queue)
    if urls is None:
        if urls_file is None:
            raise TypeError(f"{func}() needs urls (an iterable of str) or urls_file")
    else:
        if isinstance(urls, (str, bytes)):
            raise _type_error(func, "urls", "an iterable of str, not a single string", urls)
        if urls_file is not None:
            raise TypeError(f"{func}() takes urls or urls_file, not both")
        aiter = func == "enqueue" and hasattr(urls, "__aiter__")
        if not aiter and not hasattr(urls, "__iter__"):
            what = "an iterable (or async iterable) of str" if func == "enqueue" else \
                "an iterable of str"
            raise _type_error(func, "urls", what, urls)
    urls_path = _path_arg(func, "urls_file", urls_file, none=True)
    if urls_path is not None and input_name is not None:
        raise TypeError(f"{func}() argument 'input_name' goes with urls (a file is named by "
                        f"its path)")

    # The crawl's settings: fetch's options of role "crawl" (name, encoding,
    # limit_per_host, ...), checked as corun.fetch checks them.
    settings = _checked_options(func, spelled, crawl_settings, roles=("crawl",))
    settings.update(
        lease=_check_number(func, "lease", lease, minimum=1.0, maximum=86400.0,
                            what="a number of seconds", unit=" seconds"),
        max_deliveries=_check_int(func, "max_deliveries", max_deliveries, minimum=1,
                                  maximum=1000))
    name_of_input = _check_str(func, "input_name", input_name, none=True)
    # A fresh name unless the caller names the input: only a run with the same
    # name (and the same lines) may skip what an earlier one added.
    name_of_input = ("python:" + name_of_input if name_of_input is not None
                     else f"python:{_uuid4()}")
    call, feed = _corun._enqueue(
        queue, urls_path, name_of_input, settings,
        _check_str(func, "base_url", base_url, none=True) or "",
        _check_bool(func, "replace_settings", replace_settings),
        _check_int(func, "high_water", high_water, minimum=1, maximum=10**9))
    return call, feed


def _batches(func, urls):
    batch = []
    for u in urls:
        if not isinstance(u, str):
            raise TypeError(f"{func}() argument 'urls' must hold str, got {type(u).__name__}")
        batch.append(u)
        if len(batch) >= _ENQUEUE_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


async def _abatches(func, urls):
    batch = []
    async for u in urls:
        if not isinstance(u, str):
            raise TypeError(f"{func}() argument 'urls' must hold str, got {type(u).__name__}")
        batch.append(u)
        if len(batch) >= _ENQUEUE_BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def enqueue(urls=None, urls_file=None, *, queue, **settings):
    """Adds URLs to the shared crawl at queue ("redis://[user:password@]
    host:port[/db]/NAME"), as `corun fetch --queue URL/NAME --enqueue FILE`
    (docs/scale-out.md); await it from any asyncio loop. urls: an iterable
    (or async iterable) of "URL [LABEL]" lines, read in batches as the crawl
    takes them (never held whole); or urls_file: a file of them ("-": stdin).
    The first producer creates the crawl and stores its settings, which every
    worker enforces: limit_per_host (per_host, its old name, is accepted too),
    rate, retries, retry_delay, retry_max_delay,
    encoding, name (must contain {hash} or {index}; default
    "{hash}-{name}"), bom, raw, lease (seconds a worker's claim lasts
    unless renewed), max_deliveries; a later producer adds URLs and keeps the
    crawl's settings unless replace_settings=True. base_url is put in front
    of relative URLs; the producer pauses while more than high_water URLs
    wait or are in flight. Only URLs the crawl has not seen are added.

    input_name: names the input so a run can be resumed: run again with the
    same input_name and the same lines after an interruption, and the lines
    an earlier run added are skipped (EnqueueResult.resumed). None: a fresh
    name, nothing skipped (a URL the crawl has is still never added twice).
    The crawl's workers finish only once a producer has read its input to
    the end; a cancelled enqueue leaves the crawl open for the next one.

    Returns EnqueueResult (lines, added, duplicates, resumed). A malformed
    queue URL is a ValueError naming the expected form; a server that cannot
    be used, or a key of the wrong type under NAME, corun.QueueError."""
    settings, spelled = _resolve_aliases("enqueue", settings, ("per_host",))
    call, feed = _enqueue_call("enqueue", urls, urls_file, spelled, queue=queue, **settings)
    return _enqueue_await(call, feed, urls)


async def _enqueue_await(call, feed, urls):
    future = call.start()
    try:
        if urls is not None:
            if hasattr(urls, "__aiter__"):
                async for batch in _abatches("enqueue", urls):
                    if not await feed.push(batch).start():
                        break  # the enqueue ended: its outcome says why
                else:
                    await feed.close().start()
            else:
                for batch in _batches("enqueue", urls):
                    if not await feed.push(batch).start():
                        break
                else:
                    await feed.close().start()
        return EnqueueResult(**await future)
    except BaseException:
        future.cancel()
        if future.done() and not future.cancelled():
            future.exception()  # (retrieved: the error raised here is the one that counts)
        raise


def enqueue_sync(urls=None, urls_file=None, *, queue, **settings):
    """enqueue() blocking the calling thread (with or without a running asyncio
    loop; Ctrl-C stops it and raises KeyboardInterrupt: what was added stays
    added, and a run with the same input_name resumes after it)."""
    settings, spelled = _resolve_aliases("enqueue_sync", settings, ("per_host",))
    call, feed = _enqueue_call("enqueue_sync", urls, urls_file, spelled, queue=queue,
                               **settings)
    if urls is None:
        return EnqueueResult(**call.wait())
    call.submit()
    try:
        for batch in _batches("enqueue_sync", urls):
            if not feed.push(batch).wait():
                break  # the enqueue ended: its outcome says why
        else:
            feed.close().wait()
    except BaseException:
        call.cancel()
        raise
    return EnqueueResult(**call.wait())


def _collect_call(func, queue, report):
    queue = _queue_arg(func, queue)
    return _corun._collect(queue, _path_arg(func, "report", report))


def collect(*, queue, report):
    """Writes the shared crawl's report (the JSON lines of a plain fetch's
    report, one per URL) to the file report as records arrive, as `corun fetch
    --queue URL/NAME --collect FILE`, and returns once the crawl is finished
    and every record is written: CollectResult (written, done, failed,
    warnings). One collector per crawl; resumable (run again with the same
    file after an interruption). Redis going away mid-run is waited out (the
    records stay in Redis until written) and said in .warnings. Errors as
    for enqueue."""
    call = _collect_call("collect", queue, report)
    return _collect_await(call)


async def _collect_await(call):
    # Cancelled, it returns once the C++ collector has stopped (its last batch
    # written and stored, its claim let go), so the same call right after goes on
    # from there instead of finding the claim still held.
    from .fetch import _until_ended

    future = call.start()
    return CollectResult(**await _until_ended(future, call))


def collect_sync(*, queue, report):
    """collect() blocking the calling thread (Ctrl-C stops it and raises
    KeyboardInterrupt once it has stopped; run again with the same file to go
    on; a second Ctrl-C stops waiting)."""
    call = _collect_call("collect_sync", queue, report)
    return CollectResult(**call.wait(call.cancel_started))
