"""corun.fetch: `corun fetch` as a function (python/src/fetch_binding.cpp runs
corun::fetch::Fetcher on the loop thread), its results, and their notebook
displays (a live progress display while it runs, HTML tables once done); with
queue=, a worker of a shared crawl (whose producer and collector are
queue.py's)."""

import asyncio as _asyncio
import os as _os
import sys as _sys
import threading as _threading
import time as _time
import warnings as _warnings

from . import _corun
from ._args import check_bool as _check_bool
from ._args import check_range as _check_range
from ._args import check_str as _check_str
from ._args import header_list as _header_list
from ._args import type_error as _type_error

__all__ = ["FetchRecord", "FetchResults", "fetch", "fetch_sync"]


def _escape(text):
    # html.escape, imported on first use: only notebooks show HTML, and the
    # import is a cost of every `import corun`.
    import html

    return html.escape(text)


# The options as C++ lists them (corun::fetch::kOptionFields, the one list
# behind `corun fetch`'s flags too): (member, keyword, kind, role) in order,
# their defaults (a default-constructed corun::fetch::Options) and numeric
# ranges, so they are stated once. A keyword's check follows its kind; its role
# says who sets it in a shared crawl ("crawl": the producer, "worker": each
# worker, "run": a local run only).
_OPTIONS = _corun._fetch_options
_DEFAULTS = _corun._fetch_defaults
_RANGES = _corun._numeric_ranges

# Keywords renamed after corun.ClientSession's (corun::http::SessionOptions'),
# old name -> new name. The old names stay accepted as aliases so scripts
# written for them keep working; insecure=True means verify_tls=False.
_ALIASES = {"per_host": "limit_per_host", "max_size": "max_body_size", "insecure": "verify_tls"}


def _resolve_aliases(func, given, old_names=tuple(_ALIASES)):
    """given (a caller's keywords) with each old name of old_names replaced by
    its new one; and {new name: old name} for those the caller spelled the old
    way, so that messages name the keyword the caller used. An old name given
    together with its new one is a TypeError."""
    given = dict(given)
    spelled = {}
    for old in old_names:
        if old not in given:
            continue
        new = _ALIASES[old]
        if new in given:
            raise TypeError(f"{func}() got both '{new}' and '{old}' (its old name): keep "
                            f"'{new}' only")
        value = given.pop(old)
        if old == "insecure":
            value = not _check_bool(func, old, value)
        given[new] = value
        spelled[new] = old
    return given, spelled


# The record's fields as C++ lists them (corun::fetch::kRecordFields):
# (name, kind, in_report), in the order of the rows _corun._fetch returns.
_RECORD_FIELDS = tuple(name for name, _kind, _in_report in _corun._record_fields)
_REPORT_FIELDS = tuple(name for name, _kind, in_report in _corun._record_fields if in_report)


class FetchRecord:
    """One URL's outcome: a line of the report (`corun fetch`'s JSON-lines
    report has the same fields). None where the report has null. index: the
    URL's position among the input's URL lines (blank and # lines not
    counted); not a report field.

    FetchRecord(url, final_url, status, ..., elapsed, index=None): the fields
    in the report's order, then those not in the report (which default to
    None)."""

    _FIELDS = _REPORT_FIELDS
    __slots__ = _RECORD_FIELDS

    def __init__(self, *values, **named):
        if len(values) > len(_RECORD_FIELDS):
            raise TypeError(f"FetchRecord() takes at most {len(_RECORD_FIELDS)} arguments "
                            f"({len(values)} given)")
        given = dict(zip(_RECORD_FIELDS, values))
        for name, value in named.items():
            if name not in _RECORD_FIELDS:
                raise TypeError(f"FetchRecord() got an unexpected keyword argument '{name}'")
            if name in given:
                raise TypeError(f"FetchRecord() got multiple values for argument '{name}'")
            given[name] = value
        for name in _RECORD_FIELDS:
            if name not in given and name in _REPORT_FIELDS:
                raise TypeError(f"FetchRecord() missing required argument: '{name}'")
            setattr(self, name, given.get(name))

    @property
    def ok(self):
        return self.error is None

    def as_dict(self):
        """The report's fields (the JSON-lines report's keys)."""
        return {name: getattr(self, name) for name in self._FIELDS}

    def __repr__(self):
        what = f"error={self.error!r}" if self.error else f"status={self.status} path={self.path!r}"
        return f"<FetchRecord {self.url} {what}>"

    def _repr_html_(self):
        rows = "".join(
            f"<tr><th style='text-align:left'>{name}</th><td style='text-align:left'>"
            f"{_esc(getattr(self, name))}</td></tr>" for name in self._FIELDS)
        state = "ok" if self.ok else "failed"
        return (f"<div><b>FetchRecord</b> ({state})<table>{rows}</table></div>")


def _esc(value):
    return "<i>None</i>" if value is None else _escape(str(value))


class FetchResults(list):
    """The records of a fetch, one per URL (input order for a list of URLs,
    completion order for urls_file; each record's .index is its input
    position), and the run's summary as attributes: seen, done, failed,
    skipped, not_started, bytes, elapsed, interrupted, report_error,
    stop_reason (why the run stopped early on its own, such as a disk too
    full to hold the report; None otherwise); ok is True when every URL is
    done. A queue worker's (fetch(queue=...)) also has
    worker, finished, worker_counters and warnings (None otherwise)."""

    def __init__(self, records, summary):
        super().__init__(records)
        self.seen = summary["seen"]
        self.done = summary["done"]
        self.failed = summary["failed"]
        self.skipped = summary["skipped"]
        self.not_started = summary["not_started"]
        self.bytes = summary["bytes"]
        self.elapsed = summary["elapsed"]
        self.interrupted = summary["interrupted"]
        self.report_error = summary["report_error"]
        self.stop_reason = summary["stop_reason"]
        # A queue worker's (fetch(queue=...)); None for a plain fetch.
        self.worker = None
        self.finished = None
        self.worker_counters = None
        self.warnings = None

    @property
    def ok(self):
        return self.failed == 0 and not self.interrupted and self.report_error is None

    def __repr__(self):
        return (f"<FetchResults done={self.done} failed={self.failed} skipped={self.skipped} "
                f"elapsed={self.elapsed:.3f}s>")

    def counts_by_status(self):
        """{status or None (no response): number of records}."""
        return _count(r.status for r in self)

    def counts_by_encoding(self):
        """{encoding or None (raw, binary or failed): number of records}."""
        return _count(r.encoding for r in self)

    def errors(self):
        """The records that failed, in the list's order."""
        return [r for r in self if r.error is not None]

    def _repr_html_(self, first_errors=5):
        state = "all done" if self.ok else ("stopped" if self.stop_reason else
                                            "interrupted" if self.interrupted else "some failed")
        rate = self.done / self.elapsed if self.elapsed > 0 else 0.0
        summary = (f"<b>corun.fetch</b>: {state} &mdash; {self.done} done, {self.failed} failed, "
                   f"{self.skipped} skipped, {self.not_started} not started; "
                   f"{_human_bytes(self.bytes)} in {self.elapsed:.2f} s ({rate:.1f} pages/s)")
        if self.stop_reason:
            summary += f"<br>stopped: {_escape(self.stop_reason)}"
        if self.report_error:
            summary += f"<br>report: {_escape(self.report_error)}"

        def table(title, counts):
            rows = "".join(f"<tr><td style='text-align:left'>{_esc(k)}</td><td>{v}</td></tr>"
                           for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0]))))
            return (f"<table style='display:inline-block;vertical-align:top;margin-right:2em'>"
                    f"<tr><th style='text-align:left'>{title}</th><th>records</th></tr>{rows}"
                    f"</table>")

        parts = [f"<div>{summary}</div>", "<div>",
                 table("status", self.counts_by_status()),
                 table("encoding", self.counts_by_encoding()), "</div>"]
        errors = self.errors()
        if errors:
            items = "".join(f"<li><code>{_escape(r.url)}</code>: {_escape(r.error)}</li>"
                            for r in errors[:first_errors])
            more = (f"<li>... and {len(errors) - first_errors} more</li>"
                    if len(errors) > first_errors else "")
            parts.append(f"<div>first errors:<ul>{items}{more}</ul></div>")
        return "".join(parts)


def _count(values):
    out = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


def _human_bytes(n):
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"


# --- the live progress display (notebooks only) -------------------------------

# Seconds between two updates of the display.
_PROGRESS_PERIOD = 0.5


def _notebook_shell():
    """The IPython shell if this runs in a Jupyter kernel (which renders
    display updates), else None: a terminal IPython or plain Python shows no
    progress display."""
    ipython = _sys.modules.get("IPython")
    if ipython is None:
        return None
    try:
        shell = ipython.get_ipython()
    except Exception:  # noqa: BLE001 (a broken IPython means: not a notebook)
        return None
    if shell is None or getattr(shell, "kernel", None) is None:
        return None
    return shell


class _ProgressView:
    """What the display shows: text/plain and text/html of one snapshot."""

    def __init__(self, snapshot, total, started, final=False):
        seen, done, failed, in_flight, size, total_hint = snapshot
        self.done, self.failed, self.in_flight, self.size = done, failed, in_flight, size
        self.total = total if total is not None else (total_hint if total_hint >= 0 else None)
        self.elapsed = max(_time.monotonic() - started, 1e-9)
        self.rate = (done + failed) / self.elapsed
        self.final = final

    def _eta(self):
        if self.final or self.total is None or self.rate <= 0:
            return None
        left = self.total - self.done - self.failed
        return max(left, 0) / self.rate

    def _text(self):
        parts = [f"{self.done} done", f"{self.failed} failed", f"{self.in_flight} in flight",
                 f"{self.rate:.1f} pages/s"]
        if self.total is not None:
            parts.insert(0, f"{self.done + self.failed}/{self.total}")
        eta = self._eta()
        if eta is not None:
            parts.append(f"ETA {eta:.0f} s")
        if self.final:
            parts.append(f"finished in {self.elapsed:.1f} s")
        return "corun.fetch: " + ", ".join(parts)

    def __repr__(self):
        return self._text()

    def _repr_html_(self):
        bar = ""
        if self.total:
            bar = (f"<progress value='{self.done + self.failed}' max='{self.total}' "
                   f"style='width:20em;margin-right:1em'></progress>")
        return f"<div>{bar}<code>{_escape(self._text())}</code></div>"


class _ProgressDisplay:
    """One display in the notebook's output, updated in place."""

    def __init__(self, live, total):
        from IPython.display import display
        self._live = live
        self._total = total
        self._started = _time.monotonic()
        self._handle = display(self._view(), display_id=True)

    def _view(self, final=False):
        return _ProgressView(self._live.snapshot(), self._total, self._started, final)

    def update(self, final=False):
        self._handle.update(self._view(final))


def _start_display(live, total):
    """The display for a run that is starting, or None."""
    if live is None:
        return None
    try:
        return _ProgressDisplay(live, total)
    except Exception:  # noqa: BLE001 (no display machinery after all: no progress)
        return None


# --- fetch ----------------------------------------------------------------------


def _fetch_call(func, urls, urls_file=None, **options):
    if urls is None:
        if urls_file is None:
            raise TypeError(f"{func}() needs urls (a list of str) or urls_file")
        url_list = []
    else:
        if isinstance(urls, (str, bytes)):
            raise _type_error(func, "urls", "a list (or iterable) of str, not a single string",
                              urls)
        try:
            url_list = list(urls)
        except TypeError:
            raise _type_error(func, "urls", "a list (or iterable) of str", urls) from None
        for u in url_list:
            if not isinstance(u, str):
                raise TypeError(f"{func}() argument 'urls' must hold str, got {type(u).__name__}")
        if urls_file is not None:
            raise TypeError(f"{func}() takes urls or urls_file, not both")
    urls_path = _path_arg(func, "urls_file", urls_file, none=True)
    options, spelled = _resolve_aliases(func, options)
    show = _check_bool(func, "progress", options.pop("progress", True))
    checked = _checked_options(func, spelled, options)
    total = _count_url_lines(url_list) if urls is not None else None
    # Live counters the C++ run updates, only where a display will show them.
    live = _corun._FetchProgress() if show and _notebook_shell() is not None else None
    call = _corun._fetch(url_list, urls_path, checked, live)
    return call, urls is not None, (live, total)


def _path_arg(func, arg, value, none=False):
    if value is None and none:
        return None
    if not isinstance(value, (str, _os.PathLike)):
        raise _type_error(func, arg, "a path (str or os.PathLike)", value)
    return _os.fspath(value)


def _checked_options(func, spelled, given, roles=("run", "crawl", "worker")):
    """given (the caller's keywords, aliases resolved) checked as the options
    of roles: {Options member: value} for every option of those roles (the C++
    default where not given). spelled: {keyword: the old name the caller gave it
    under} (_resolve_aliases), for the messages. A keyword that is no option of
    roles is a TypeError, as Python's own for an unknown keyword."""
    mine = [option for option in _OPTIONS if option[3] in roles]
    known = {keyword for _member, keyword, _kind, _role in mine}
    for keyword in given:  # first, as Python checks a call's keywords before its body runs
        if keyword not in known:
            raise TypeError(f"{func}() got an unexpected keyword argument '{keyword}'")
    options = {}
    for member, keyword, kind, _role in mine:
        if keyword in given:
            options[member] = _checked_option(func, spelled.get(keyword, keyword), member,
                                              kind, given[keyword])
        else:
            options[member] = _DEFAULTS[member]
    return options


def _checked_option(func, arg, member, kind, value):
    """One option's value, checked by its kind (the C++ member's type) and
    converted to what the member takes. None is accepted where the member's
    default is empty (None: not given) and for a timeout whose 0 has a meaning
    (None: no limit, as 0)."""
    default = _DEFAULTS[member]
    if kind == "bool":
        return _check_bool(func, arg, value)
    if kind == "str":
        checked = _check_str(func, arg, value, none=default == "")
        return "" if checked is None else checked
    if kind == "path":
        return _path_arg(func, arg, value, none=default == "") or ""
    if kind == "list":  # headers: "Name: value" lines, a mapping or (name, value) pairs
        if isinstance(value, (list, tuple)) and all(isinstance(h, str) for h in value):
            return list(value)
        return [f"{k}: {v}" for k, v in _header_list(func, arg, value)]
    limits = _RANGES[member]
    if kind == "size":
        # 0 passes here and is refused by the engine when the run starts.
        return _check_range(func, arg, value, limits, none=True, minimum=0)
    if kind == "seconds":
        zero = limits[3]
        checked = _check_range(func, arg, value, limits, none=bool(zero),
                               what="a number of seconds")
        return 0.0 if checked is None else checked
    return _check_range(func, arg, value, limits)  # "int", "number"


def _count_url_lines(lines):
    # The lines the engine counts as URLs (it skips blank and # lines).
    n = 0
    for line in lines:
        stripped = line.strip(" \t\r")
        if stripped and not stripped.startswith("#"):
            n += 1
    return n


def _fetch_results(outcome, in_input_order):
    rows, summary = outcome
    records = [FetchRecord(*row) for row in rows]
    if in_input_order:
        # Records arrive in completion order; each carries its input position.
        records.sort(key=lambda r: r.index)
    return FetchResults(records, summary)


def fetch(urls=None, urls_file=None, *, queue=None, worker_name=None, records=None, **options):
    """Fetches many URLs into files, as `corun fetch` does, on corun's C++ loop
    (await it from any asyncio loop). urls: a list of URLs ("URL [LABEL]"
    lines); or urls_file: a file of them, streamed. Options (the flags of
    `corun fetch`): out_dir, name, report, resume, encoding, bom, raw, fsync,
    max_body_size, base_url, concurrency, limit_per_host, rate, retries,
    retry_delay, retry_max_delay, timeout, connect_timeout, read_timeout,
    headers, user_agent, proxy, verify_tls (default True; False: do not verify
    TLS certificates, as --insecure), cacert, threads, cookies; and progress
    (True: a live display in a notebook, nothing elsewhere; False: none).
    limit_per_host, max_body_size and verify_tls are corun.ClientSession's
    names; the older per_host, max_size and insecure (insecure=True is
    verify_tls=False) are accepted aliases, not to be given with the new name.
    Returns
    FetchResults: a list of FetchRecord plus the summary. A failing URL is a
    record with .error, never an exception; cancelling the awaiting task stops
    the run at once, and its CancelledError comes once the run is over (its
    report written: a resume right after starts from it).

    queue="redis://[user:password@]host:port[/db]/NAME": this process becomes
    a worker of that shared crawl (`corun fetch --queue URL/NAME --out DIR`;
    docs/scale-out.md) and runs until the crawl is finished: its URLs come
    from the crawl (added by corun.enqueue or `--enqueue`), so urls and
    urls_file are a TypeError; so are the crawl's settings (name, encoding,
    bom, raw, limit_per_host, rate, retries, retry_delay, retry_max_delay, and
    report, resume, base_url, which a worker has no use for): every worker
    enforces those stored in Redis by the producer. The worker's own options:
    out_dir, concurrency, threads, fsync, max_body_size, the timeouts, headers,
    user_agent, proxy, verify_tls, cacert, cookies, progress, worker_name
    (its consumer name; default host:pid:random) and records (default True;
    False: the worker keeps no record in memory, for a long crawl whose
    report is corun.collect's). Returns FetchResults of the
    records this worker made (completion order; a URL two workers fetched,
    after a stall, is in both lists, but in the crawl's report once: see
    corun.collect), with .worker (its name), .finished (True: the crawl was
    finished), .worker_counters (taken, recorded, duplicates, deferred,
    released, leases_lost, redis_errors, confirmed, dropped, bounced, given_up,
    not_delivered) and .warnings (what the worker met, one line each: Redis
    unreachable, reachable again, outcomes not delivered when it gave up at
    the end; that last one is also a RuntimeWarning). Cancelling the awaiting task stops
    the worker as Ctrl-C stops the CLI's: it stops claiming, lets its
    transfers finish, delivers every outcome and hands back the URLs it had
    not started, then raises CancelledError; a second cancellation while it
    winds down stops it at once (its leases then expire). A malformed queue
    URL is a ValueError naming the expected form; a server that cannot be
    used, or no crawl of that name, is corun.QueueError."""
    if queue is not None:
        call, stop, progress = _worker_call("fetch", urls, urls_file, queue, worker_name,
                                            records, options)
        return _worker_await(call, stop, progress)
    _no_worker_arguments("fetch", worker_name, records)
    call, in_order, progress = _fetch_call("fetch", urls, urls_file, **options)
    return _fetch_await(call, in_order, progress)


async def _fetch_await(call, in_order, progress):
    display = _start_display(*progress)
    future = call.start()
    if display is None:
        return _fetch_results(await _until_ended(future, call), in_order)
    return _fetch_results(await _with_display(display, _until_ended(future, call)), in_order)


async def _until_ended(future, call):
    """await future; when the awaiting task is cancelled, the C++ run is stopped
    at once and waited for (its report written, its files closed) before
    CancelledError goes on, so that whoever catches it (a wait_for, a resume
    right after) finds the run over. A second cancellation stops the wait."""
    try:
        return await _asyncio.shield(future)
    except _asyncio.CancelledError:
        if future.done():
            raise
        call.cancel_started()
        try:
            await future
        except (Exception, _asyncio.CancelledError):  # moot: this task was cancelled
            pass
        raise


async def _with_display(display, awaitable):
    """await awaitable while display is refreshed from the running loop."""

    async def refresh():
        while True:
            await _asyncio.sleep(_PROGRESS_PERIOD)
            display.update()

    updater = _asyncio.ensure_future(refresh())
    try:
        return await awaitable
    finally:
        updater.cancel()
        try:
            await updater
        except _asyncio.CancelledError:
            pass
        display.update(final=True)


def _sync_wait(call, progress, on_interrupt=None):
    """call.wait() with the progress display refreshed from a thread."""
    display = _start_display(*progress)
    if display is None:
        return call.wait(on_interrupt)
    stop = _threading.Event()

    def refresh():
        while not stop.wait(_PROGRESS_PERIOD):
            display.update()

    updater = _threading.Thread(target=refresh, name="corun-fetch-progress", daemon=True)
    updater.start()
    try:
        return call.wait(on_interrupt)
    finally:
        stop.set()
        updater.join()
        display.update(final=True)


def _no_worker_arguments(func, worker_name, records):
    for name, value in (("worker_name", worker_name), ("records", records)):
        if value is not None:
            raise TypeError(f"{func}() argument '{name}' goes with queue=")


def fetch_sync(urls=None, urls_file=None, *, queue=None, worker_name=None, records=None,
               **options):
    """fetch() blocking the calling thread (works with or without a running
    asyncio loop; Ctrl-C stops the run and raises KeyboardInterrupt). With
    queue=, Ctrl-C stops the worker gracefully (as the CLI's first Ctrl-C:
    see fetch) and raises KeyboardInterrupt once it has handed everything
    back; a second Ctrl-C stops it at once."""
    if queue is not None:
        call, stop, progress = _worker_call("fetch_sync", urls, urls_file, queue, worker_name,
                                            records, options)
        return _worker_results(_sync_wait(call, progress, stop.stop))
    _no_worker_arguments("fetch_sync", worker_name, records)
    call, in_order, progress = _fetch_call("fetch_sync", urls, urls_file, **options)
    # Ctrl-C stops the run at once; KeyboardInterrupt comes once it is over
    # (its report written). A second Ctrl-C stops waiting.
    return _fetch_results(_sync_wait(call, progress, call.cancel_started), in_order)


# --- the shared crawl (docs/scale-out.md) ----------------------------------------

# fetch()'s keywords that are the crawl's settings (role "crawl": stored by the
# producer, applied by every worker, corun::fetch::QueueSettings) or that a
# worker has no use for (role "run": its report is the crawl's, see
# corun.collect in queue.py).
_NOT_FOR_WORKERS = tuple(keyword for _m, keyword, _k, role in _OPTIONS if role != "worker")
_QUEUE_FORM = _corun._queue_url_form


def _queue_arg(func, queue):
    if not isinstance(queue, str):
        raise _type_error(func, "queue", f"a str ({_QUEUE_FORM})", queue)
    _corun._check_queue_url(queue)  # ValueError naming the expected form
    return queue


def _worker_call(func, urls, urls_file, queue, worker_name, records, options):
    if urls is not None or urls_file is not None:
        raise TypeError(f"{func}() with queue= takes no urls or urls_file: a worker takes its "
                        f"URLs from the crawl (add them with corun.enqueue)")
    options, spelled = _resolve_aliases(func, options)
    crawl = [spelled.get(name, name) for name in _NOT_FOR_WORKERS if name in options]
    if crawl:
        raise TypeError(f"{func}() with queue= does not take {', '.join(crawl)}: the crawl's "
                        f"settings are stored by its producer (corun.enqueue) and every worker "
                        f"reads them from Redis")
    queue = _queue_arg(func, queue)
    worker = _check_str(func, "worker_name", worker_name, none=True) or ""
    keep = True if records is None else _check_bool(func, "records", records)
    show = _check_bool(func, "progress", options.pop("progress", True))
    mine = _checked_options(func, spelled, options, roles=("worker",))
    live = _corun._FetchProgress() if show and _notebook_shell() is not None else None
    call, stop = _corun._fetch_worker(queue, mine, worker, live, keep)
    return call, stop, (live, None)


def _worker_results(outcome):
    rows, summary = outcome
    results = FetchResults([FetchRecord(*row) for row in rows], summary)
    results.worker = summary["worker"]
    results.finished = summary["finished"]
    results.worker_counters = summary["worker_counters"]
    results.warnings = summary["warnings"]
    lost = results.worker_counters["not_delivered"]
    if lost:
        # Not silent: those URLs are fetched again by another worker.
        _warnings.warn(f"corun worker {results.worker}: {lost} outcome(s) not delivered (Redis "
                       f"unreachable while closing); their URLs will be fetched again once "
                       f"their leases expire", RuntimeWarning, stacklevel=3)
    return results


async def _worker_await(call, stop, progress):
    display = _start_display(*progress)
    future = call.start()
    if display is None:
        return _worker_results(await _graceful(future, stop))
    return _worker_results(await _with_display(display, _graceful(future, stop)))


async def _graceful(future, stop):
    try:
        # Shielded: a cancellation asks the worker to wind down (below)
        # instead of cancelling its C++ task outright.
        return await _asyncio.shield(future)
    except _asyncio.CancelledError:
        if future.done():
            raise
        stop.stop()
        # A second cancellation here cancels the future itself, and with it
        # the C++ run (its leases then expire).
        await future
        raise
