# corun's public Python API, run in the extension module's namespace at import
# (module.cpp). The C++ primitives it calls (_Call, _Session, _Response, _fetch,
# _sleep) are defined before this runs.
#
# Model: the work runs on one C++ event loop thread (libuv + libcurl), started on
# first use and stopped at interpreter exit. Every coroutine function here
# returns a coroutine that, once awaited, submits the work and waits on an
# asyncio Future of the caller's running loop (asyncio, uvloop, a Jupyter
# kernel: whichever it is); cancelling it cancels the C++ work. Every one has a
# blocking twin named *_sync, for code with no loop and also for code inside a
# running loop (it blocks that thread; Ctrl-C cancels the work).

import asyncio as _asyncio
import atexit as _atexit
import collections.abc as _abc
import json as _json
import re as _re
import typing as _typing
import urllib.parse as _urlparse
import weakref as _weakref

_atexit.register(_shutdown)  # noqa: F821 (defined by the C++ part)

# --- errors: aiohttp's names and hierarchy ------------------------------------


class ClientError(Exception):
    """Base of every HTTP client error (aiohttp.ClientError). .url: the request's URL."""

    def __init__(self, message="", *, url=None):
        super().__init__(message)
        self.url = url


class ClientConnectionError(ClientError):
    """The connection failed or broke (aiohttp.ClientConnectionError)."""


class ClientConnectorError(ClientConnectionError):
    """Could not connect: refused, DNS failure, TLS failure (aiohttp.ClientConnectorError)."""


class ClientSSLError(ClientConnectorError):
    """TLS failed (aiohttp.ClientSSLError)."""


class ClientConnectorCertificateError(ClientSSLError):
    """The server's certificate did not verify (aiohttp.ClientConnectorCertificateError)."""


class ServerDisconnectedError(ClientConnectionError):
    """The server closed the connection before a response (aiohttp.ServerDisconnectedError)."""


class ClientPayloadError(ClientError):
    """The body was truncated or malformed (aiohttp.ClientPayloadError)."""


class InvalidURL(ClientError, ValueError):
    """A malformed URL or an unsupported scheme (aiohttp.InvalidURL)."""


class RequestInfo(_typing.NamedTuple):
    url: str
    method: str
    headers: object
    real_url: str


class ClientResponseError(ClientError):
    """A response with an error status (aiohttp.ClientResponseError): .status,
    .message (the reason phrase), .url, .request_info, .headers, .history."""

    def __init__(self, message="", *, url=None, status=None, reason="", method="GET",
                 headers=None, history=()):
        if not message:
            message = f"{status}, message={reason!r}, url={url!r}"
        super().__init__(message, url=url)
        self.status = status
        self.message = reason
        self.headers = headers
        self.history = tuple(history)
        self.request_info = RequestInfo(url, method, headers, url)

    @property
    def code(self):
        return self.status


class TooManyRedirects(ClientResponseError):
    """More redirects than max_redirects (aiohttp.TooManyRedirects)."""


class ContentTypeError(ClientResponseError):
    """json() on a response whose media type is not JSON (aiohttp.ContentTypeError)."""


# --- argument checking --------------------------------------------------------


def _type_error(func, name, what, value):
    return TypeError(f"{func}() argument '{name}' must be {what}, not {type(value).__name__}")


def _check_str(func, name, value, *, none=False):
    if value is None and none:
        return None
    if not isinstance(value, str):
        raise _type_error(func, name, "str" + (" or None" if none else ""), value)
    return value


def _check_int(func, name, value, *, none=False, minimum=0):
    if value is None and none:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise _type_error(func, name, "int" + (" or None" if none else ""), value)
    if value < minimum:
        raise ValueError(f"{func}() argument '{name}' must be >= {minimum}, got {value}")
    return value


def _check_bool(func, name, value, *, none=False):
    if value is None and none:
        return None
    if not isinstance(value, bool):
        raise _type_error(func, name, "bool" + (" or None" if none else ""), value)
    return value


def _check_seconds(func, name, value, *, none=True):
    if value is None and none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _type_error(func, name, "a number of seconds" + (" or None" if none else ""), value)
    if value < 0:
        raise ValueError(f"{func}() argument '{name}' must be >= 0, got {value}")
    return float(value)


def _check_url(func, name, value):
    if isinstance(value, str):
        return value
    if type(value).__name__ == "URL" and type(value).__module__.startswith("yarl"):
        return str(value)
    raise _type_error(func, name, "str", value)


def _header_list(func, name, value):
    if value is None:
        return []
    if isinstance(value, _abc.Mapping):
        pairs = value.items()
    elif isinstance(value, (list, tuple)):
        pairs = value
    else:
        raise _type_error(func, name, "a mapping or a list of (name, value) pairs", value)
    out = []
    for pair in pairs:
        if not (isinstance(pair, tuple) and len(pair) == 2 and isinstance(pair[0], str)
                and isinstance(pair[1], str)):
            raise TypeError(f"{func}() argument '{name}' must hold (str, str) pairs, got {pair!r}")
        out.append(pair)
    return out


class ClientTimeout:
    """Timeouts in seconds, None for no limit (aiohttp.ClientTimeout).
    total: the whole request; connect (or sock_connect): establishing a
    connection; sock_read: the longest silence while reading."""

    __slots__ = ("total", "connect", "sock_read")

    def __init__(self, total=None, connect=None, sock_read=None, *, sock_connect=None):
        self.total = _check_seconds("ClientTimeout", "total", total)
        self.connect = _check_seconds("ClientTimeout", "connect", connect)
        sock_connect = _check_seconds("ClientTimeout", "sock_connect", sock_connect)
        if sock_connect is not None and (self.connect is None or sock_connect < self.connect):
            self.connect = sock_connect
        self.sock_read = _check_seconds("ClientTimeout", "sock_read", sock_read)

    def __repr__(self):
        return (f"ClientTimeout(total={self.total}, connect={self.connect}, "
                f"sock_read={self.sock_read})")

    def __eq__(self, other):
        return isinstance(other, ClientTimeout) and self._tuple() == other._tuple()

    def _tuple(self):
        return (self.total, self.connect, self.sock_read)


DEFAULT_TIMEOUT = ClientTimeout(total=300, connect=30)


def _timeout_tuple(func, name, value):
    if isinstance(value, ClientTimeout):
        return value._tuple()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _type_error(func, name, "a ClientTimeout or a number of seconds", value)
    return (_check_seconds(func, name, value), None, None)


# --- running C++ work ---------------------------------------------------------


_mailboxes = _weakref.WeakKeyDictionary()  # asyncio loop -> _Mailbox


def _mailbox(loop):
    # The _Mailbox through which C++ completions reach loop (runtime.cpp): an
    # eventfd the loop watches. None when the loop cannot watch file descriptors
    # (then each completion comes through call_soon_threadsafe, see _deliver).
    box = _mailboxes.get(loop)
    if box is None:
        box = _Mailbox()  # noqa: F821
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


def sleep(delay, result=None):
    """asyncio.sleep on corun's loop thread: awaitable from any asyncio loop."""
    delay = _check_seconds("sleep", "delay", delay, none=False)
    return _sleep_then(_sleep(delay), result)  # noqa: F821


async def _sleep_then(call, result):
    await call.start()
    return result


def sleep_sync(delay, result=None):
    """Blocks for delay seconds on corun's loop thread (Ctrl-C interrupts)."""
    delay = _check_seconds("sleep_sync", "delay", delay, none=False)
    _sleep(delay).wait()  # noqa: F821
    return result


# --- HTTP ---------------------------------------------------------------------


class Headers(_abc.Mapping):
    """Response headers: ordered, case-insensitive, repeated names kept
    (aiohttp's CIMultiDictProxy). h["Content-Type"], h.get(name), h.getall(name)."""

    __slots__ = ("_items", "_index")
    _MISSING = object()

    def __init__(self, items=()):
        self._items = list(items)
        self._index = None

    def _lookup(self):
        if self._index is None:
            index = {}
            for name, value in self._items:
                index.setdefault(name.lower(), []).append(value)
            self._index = index
        return self._index

    def __getitem__(self, name):
        values = self._lookup().get(name.lower()) if isinstance(name, str) else None
        if not values:
            raise KeyError(name)
        return values[0]

    def getone(self, name, default=_MISSING):
        try:
            return self[name]
        except KeyError:
            if default is Headers._MISSING:
                raise
            return default

    def getall(self, name, default=_MISSING):
        values = self._lookup().get(name.lower())
        if not values:
            if default is Headers._MISSING:
                raise KeyError(name)
            return default
        return list(values)

    def __contains__(self, name):
        return isinstance(name, str) and name.lower() in self._lookup()

    def __iter__(self):
        return (name for name, _ in self._items)

    def __len__(self):
        return len(self._items)

    def keys(self):
        return [name for name, _ in self._items]

    def values(self):
        return [value for _, value in self._items]

    def items(self):
        return list(self._items)

    def __repr__(self):
        return f"<Headers({self._items!r})>"


_JSON_TYPE = _re.compile(r"^application/(?:[\w.+-]+?\+)?json$")


class ClientResponse:
    """A response whose body has arrived (aiohttp.ClientResponse). read(),
    text() and json() are coroutines as in aiohttp (they return at once: the body
    is already here); read_sync(), text_sync(), json_sync() are their twins."""

    __slots__ = ("_r", "_headers", "_history", "__weakref__")

    def __init__(self, native):
        self._r = native
        self._headers = None
        self._history = None

    status = property(lambda self: self._r.status)
    reason = property(lambda self: self._r.reason)
    method = property(lambda self: self._r.method)
    url = property(lambda self: self._r.url, doc="The final URL, after redirects.")
    real_url = url
    version = property(lambda self: self._r.version, doc='"1.0", "1.1", "2" or "3".')
    ok = property(lambda self: self._r.status < 400)
    content_type = property(lambda self: self._r.content_type())
    charset = property(lambda self: self._r.charset())

    @property
    def headers(self):
        if self._headers is None:
            self._headers = Headers(self._r.headers())
        return self._headers

    @property
    def history(self):
        if self._history is None:
            self._history = tuple(ClientResponse(r) for r in self._r.history())
        return self._history

    @property
    def content_length(self):
        value = self.headers.get("Content-Length")
        return int(value) if value is not None and value.isdigit() else None

    def get_encoding(self):
        """The encoding a browser would use for the body (WHATWG label)."""
        return self._r.sniff()[0]

    def get_encoding_source(self):
        """How get_encoding() chose: bom, http, meta, utf8, detected or default."""
        return self._r.sniff()[1]

    def read_sync(self):
        return self._r.body()

    def text_sync(self, encoding=None, errors="replace"):
        """The body decoded as a browser would (WHATWG decoders); encoding: a
        label to force one. errors: "replace" (U+FFFD) or "strict"."""
        encoding = _check_str("text", "encoding", encoding, none=True)
        _check_str("text", "errors", errors)
        if errors not in ("replace", "strict"):
            raise ValueError(f"text() argument 'errors' must be 'replace' or 'strict', not {errors!r}")
        return self._r.text(encoding or "", errors)

    def json_sync(self, *, encoding=None, loads=_json.loads, content_type="application/json"):
        if content_type:
            ctype = self.content_type
            expected = (_JSON_TYPE.match(ctype) is not None if content_type == "application/json"
                        else ctype == content_type)
            if not expected:
                raise ContentTypeError(
                    f"Attempt to decode JSON with unexpected mimetype: {ctype}", url=self.url,
                    status=self.status, reason=self.reason, method=self.method,
                    headers=self.headers, history=self.history)
        text = self.text_sync(encoding)
        return loads(text) if text.strip() else None

    async def read(self):
        return self.read_sync()

    async def text(self, encoding=None, errors="replace"):
        return self.text_sync(encoding, errors)

    async def json(self, *, encoding=None, loads=_json.loads, content_type="application/json"):
        return self.json_sync(encoding=encoding, loads=loads, content_type=content_type)

    def raise_for_status(self):
        if self.status >= 400:
            raise ClientResponseError(url=self.url, status=self.status, reason=self.reason,
                                      method=self.method, headers=self.headers,
                                      history=self.history)

    def release(self):
        """Nothing to release: the connection went back to the pool with the body."""

    close = release

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def __repr__(self):
        return f"<ClientResponse({self.url}) [{self.status} {self.reason}]>"


class _RequestContextManager:
    """What session.get() returns, as in aiohttp: a coroutine (await it, or give
    it to asyncio.create_task) that is also an async context manager."""

    __slots__ = ("_coro", "_resp")

    def __init__(self, coro):
        self._coro = coro
        self._resp = None

    def send(self, value):
        return self._coro.send(value)

    def throw(self, *args):
        return self._coro.throw(*args)

    def close(self):
        return self._coro.close()

    def __await__(self):
        return self._coro.__await__()

    async def __aenter__(self):
        self._resp = await self._coro
        return self._resp

    async def __aexit__(self, *exc):
        self._resp.release()
        return None


_abc.Coroutine.register(_RequestContextManager)


async def _await_response(call):
    return ClientResponse(await call.start())


class CookieJar:
    """The cookies of a ClientSession: those its responses set, kept for its
    later requests (and redirects) to the same site. Iterating gives
    http.cookies.Morsel objects (key, value, ["domain"], ["path"], ["secure"],
    ["httponly"], ["expires"]), as aiohttp's CookieJar does."""

    def __init__(self, native):
        self._native = native

    def _morsels(self):
        import http.cookies
        import email.utils
        out = []
        for name, value, domain, path, secure, http_only, expires in self._native.cookies():
            m = http.cookies.Morsel()
            m.set(name, value, value)
            m["domain"] = domain
            m["path"] = path
            if secure:
                m["secure"] = True
            if http_only:
                m["httponly"] = True
            if expires:
                m["expires"] = email.utils.formatdate(expires, usegmt=True)
            out.append(m)
        return out

    def __iter__(self):
        return iter(self._morsels())

    def __len__(self):
        return len(self._native.cookies())

    def clear(self):
        """Forgets every cookie."""
        self._native.clear_cookies()

    def __repr__(self):
        return f"<CookieJar {len(self)} cookies>"


class ClientSession:
    """aiohttp.ClientSession on corun's C++ loop (libcurl: keep-alive pool,
    HTTP/2, decompression). Not bound to any asyncio loop: one session can be
    used from several loops, across Jupyter cells, and by the *_sync methods.

        async with corun.ClientSession(limit=64) as s:
            r = await s.get(url)
            r.raise_for_status()
            page = await r.text()
    """

    def __init__(self, *, limit=100, limit_per_host=0, timeout=DEFAULT_TIMEOUT, headers=None,
                 user_agent="corun/0.1", raise_for_status=False, max_redirects=10,
                 verify_tls=True, ca_file=None, trust_env=False, proxy=None,
                 max_body_size=None, http2=True, auto_decompress=True):
        f = "ClientSession"
        self._native = None
        self._closed = False
        self._native = _Session(  # noqa: F821
            limit=_check_int(f, "limit", limit),
            limit_per_host=_check_int(f, "limit_per_host", limit_per_host),
            timeout=_timeout_tuple(f, "timeout", timeout),
            headers=_header_list(f, "headers", headers),
            user_agent=_check_str(f, "user_agent", user_agent),
            raise_for_status=_check_bool(f, "raise_for_status", raise_for_status),
            max_redirects=_check_int(f, "max_redirects", max_redirects),
            verify_tls=_check_bool(f, "verify_tls", verify_tls),
            ca_file=_check_str(f, "ca_file", ca_file, none=True),
            trust_env=_check_bool(f, "trust_env", trust_env),
            proxy=_check_str(f, "proxy", proxy, none=True),
            max_body_size=_check_int(f, "max_body_size", max_body_size, none=True),
            http2=_check_bool(f, "http2", http2),
            auto_decompress=_check_bool(f, "auto_decompress", auto_decompress))

    @property
    def closed(self):
        return self._closed

    def _call(self, func, method, url, headers=None, data=None, json=None, params=None,
              timeout=None, allow_redirects=True, max_redirects=None, raise_for_status=None,
              max_body_size=None, cookies=None):
        if self._closed:
            raise RuntimeError("Session is closed")
        method = _check_str(func, "method", method).upper()
        url = _check_url(func, "url", url)
        header_list = _header_list(func, "headers", headers)
        if params is not None:
            if not isinstance(params, (_abc.Mapping, list, tuple)):
                raise _type_error(func, "params", "a mapping or a list of pairs", params)
            query = _urlparse.urlencode(params)
            if query:
                url += ("&" if "?" in url else "?") + query
        if json is not None:
            if data is not None:
                raise ValueError(f"{func}(): data and json cannot both be given")
            data = _json.dumps(json)
            if not any(name.lower() == "content-type" for name, _ in header_list):
                header_list.append(("Content-Type", "application/json"))
        if isinstance(data, str):
            data = data.encode("utf-8")
        elif isinstance(data, (bytearray, memoryview)):
            data = bytes(data)
        elif data is not None and not isinstance(data, bytes):
            raise _type_error(func, "data", "bytes, str or None", data)
        return self._native.request(
            method=method, url=url, headers=header_list or None, data=data,
            timeout=None if timeout is None else _timeout_tuple(func, "timeout", timeout),
            allow_redirects=_check_bool(func, "allow_redirects", allow_redirects),
            max_redirects=_check_int(func, "max_redirects", max_redirects, none=True),
            raise_for_status=_check_bool(func, "raise_for_status", raise_for_status, none=True),
            max_body_size=_check_int(func, "max_body_size", max_body_size, none=True),
            cookies=_header_list(func, "cookies", cookies) or None)

    @property
    def cookie_jar(self):
        """The session's cookies (aiohttp's session.cookie_jar): iterate it for
        http.cookies.Morsel objects; len(); clear()."""
        return CookieJar(self._native)

    # Coroutines (aiohttp's names). Arguments: headers, data, json, params,
    # timeout, allow_redirects, max_redirects, raise_for_status, max_body_size,
    # cookies (this request's own, on top of the jar's).
    def request(self, method, url, **kwargs):
        return _RequestContextManager(_await_response(self._call("request", method, url, **kwargs)))

    def get(self, url, **kwargs):
        return _RequestContextManager(_await_response(self._call("get", "GET", url, **kwargs)))

    def post(self, url, *, data=None, **kwargs):
        return _RequestContextManager(
            _await_response(self._call("post", "POST", url, data=data, **kwargs)))

    def put(self, url, *, data=None, **kwargs):
        return _RequestContextManager(
            _await_response(self._call("put", "PUT", url, data=data, **kwargs)))

    def patch(self, url, *, data=None, **kwargs):
        return _RequestContextManager(
            _await_response(self._call("patch", "PATCH", url, data=data, **kwargs)))

    def delete(self, url, **kwargs):
        return _RequestContextManager(_await_response(self._call("delete", "DELETE", url, **kwargs)))

    def head(self, url, *, allow_redirects=False, **kwargs):
        return _RequestContextManager(_await_response(
            self._call("head", "HEAD", url, allow_redirects=allow_redirects, **kwargs)))

    def options(self, url, **kwargs):
        return _RequestContextManager(
            _await_response(self._call("options", "OPTIONS", url, **kwargs)))

    # Blocking twins.
    def request_sync(self, method, url, **kwargs):
        return ClientResponse(self._call("request_sync", method, url, **kwargs).wait())

    def get_sync(self, url, **kwargs):
        return ClientResponse(self._call("get_sync", "GET", url, **kwargs).wait())

    def post_sync(self, url, *, data=None, **kwargs):
        return ClientResponse(self._call("post_sync", "POST", url, data=data, **kwargs).wait())

    def head_sync(self, url, *, allow_redirects=False, **kwargs):
        return ClientResponse(self._call("head_sync", "HEAD", url,
                                         allow_redirects=allow_redirects, **kwargs).wait())

    def _close_call(self):
        self._closed = True
        return self._native.close()

    async def close(self):
        """Stops running transfers and closes the connections; idempotent."""
        if self._native is not None:
            await self._close_call().start()

    def close_sync(self):
        if self._native is not None:
            self._close_call().wait()

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close_sync()

    def __repr__(self):
        return f"<corun.ClientSession {'closed' if self._closed else 'open'}>"



# --- fetch --------------------------------------------------------------------


class FetchRecord:
    """One URL's outcome: a line of the report (`corun fetch`'s JSON-lines
    report has the same fields). None where the report has null."""

    __slots__ = ("url", "final_url", "status", "bytes", "encoding", "encoding_source", "path",
                 "error", "attempts", "elapsed")

    def __init__(self, url, final_url, status, bytes, encoding, encoding_source, path, error,
                 attempts, elapsed):
        self.url = url
        self.final_url = final_url
        self.status = status
        self.bytes = bytes
        self.encoding = encoding
        self.encoding_source = encoding_source
        self.path = path
        self.error = error
        self.attempts = attempts
        self.elapsed = elapsed

    @property
    def ok(self):
        return self.error is None

    def as_dict(self):
        return {name: getattr(self, name) for name in self.__slots__}

    def __repr__(self):
        what = f"error={self.error!r}" if self.error else f"status={self.status} path={self.path!r}"
        return f"<FetchRecord {self.url} {what}>"


class FetchResults(list):
    """The records of a fetch, one per URL (input order for a list of URLs,
    completion order for urls_file), and the run's summary as attributes:
    seen, done, failed, skipped, not_started, bytes, elapsed, interrupted,
    report_error; ok is True when every URL is done."""

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

    @property
    def ok(self):
        return self.failed == 0 and not self.interrupted and self.report_error is None

    def __repr__(self):
        return (f"<FetchResults done={self.done} failed={self.failed} skipped={self.skipped} "
                f"elapsed={self.elapsed:.3f}s>")


def _fetch_call(func, urls, urls_file=None, *, out_dir=".", name=None, report=None,
                resume=False, encoding="auto", bom=True, raw=False, fsync=False, max_size=None,
                base_url=None, concurrency=64, per_host=0, rate=0, retries=3, retry_delay=0.5,
                retry_max_delay=30.0, timeout=120.0, connect_timeout=15.0, read_timeout=0.0,
                headers=None, user_agent="corun-fetch/0.1", proxy=None, insecure=False,
                threads=0, cookies=True):
    import os
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

    def path_arg(arg, value, none=False):
        if value is None and none:
            return None
        if not isinstance(value, (str, os.PathLike)):
            raise _type_error(func, arg, "a path (str or os.PathLike)", value)
        return os.fspath(value)

    header_lines = []
    if isinstance(headers, (list, tuple)) and all(isinstance(h, str) for h in headers):
        header_lines = list(headers)
    else:
        header_lines = [f"{k}: {v}" for k, v in _header_list(func, "headers", headers)]
    call = _fetch(  # noqa: F821
        urls=url_list,
        urls_file=path_arg("urls_file", urls_file, none=True),
        out_dir=path_arg("out_dir", out_dir),
        name=_check_str(func, "name", name, none=True) or "",
        report=path_arg("report", report, none=True) or "",
        resume=_check_bool(func, "resume", resume),
        encoding=_check_str(func, "encoding", encoding),
        bom=_check_bool(func, "bom", bom),
        raw=_check_bool(func, "raw", raw),
        fsync=_check_bool(func, "fsync", fsync),
        max_size=_check_int(func, "max_size", max_size, none=True),
        base_url=_check_str(func, "base_url", base_url, none=True) or "",
        concurrency=_check_int(func, "concurrency", concurrency, minimum=1),
        per_host=_check_int(func, "per_host", per_host),
        rate=_check_seconds(func, "rate", rate, none=False),
        retries=_check_int(func, "retries", retries),
        retry_delay=_check_seconds(func, "retry_delay", retry_delay, none=False),
        retry_max_delay=_check_seconds(func, "retry_max_delay", retry_max_delay, none=False),
        timeout=_check_seconds(func, "timeout", timeout, none=True) or 0.0,
        connect_timeout=_check_seconds(func, "connect_timeout", connect_timeout, none=True) or 0.0,
        read_timeout=_check_seconds(func, "read_timeout", read_timeout, none=True) or 0.0,
        headers=header_lines,
        user_agent=_check_str(func, "user_agent", user_agent),
        proxy=_check_str(func, "proxy", proxy, none=True) or "",
        insecure=_check_bool(func, "insecure", insecure),
        threads=_check_int(func, "threads", threads),
        cookies=_check_bool(func, "cookies", cookies))
    return call, (url_list if urls is not None else None)


def _fetch_results(outcome, url_list):
    rows, summary = outcome
    records = [FetchRecord(*row) for row in rows]
    if url_list:
        # Input order (records arrive in completion order).
        position = {}
        for i, line in enumerate(url_list):
            words = line.split()  # "URL [LABEL]"
            if words:
                position.setdefault(words[0], []).append(i)
        end = len(url_list)

        def key(item):
            n, record = item
            slots = position.get(record.url)
            return (slots.pop(0), n) if slots else (end, n)

        records = [r for _, r in sorted(enumerate(records), key=key)]
    return FetchResults(records, summary)


def fetch(urls=None, urls_file=None, **options):
    """Fetches many URLs into files, as `corun fetch` does, on corun's C++ loop
    (await it from any asyncio loop). urls: a list of URLs ("URL [LABEL]"
    lines); or urls_file: a file of them, streamed. Options (the flags of
    `corun fetch`): out_dir, name, report, resume, encoding, bom, raw, fsync,
    max_size, base_url, concurrency, per_host, rate, retries, retry_delay,
    retry_max_delay, timeout, connect_timeout, read_timeout, headers,
    user_agent, proxy, insecure, threads, cookies. Returns FetchResults: a list of FetchRecord
    plus the summary. A failing URL is a record with .error, never an
    exception; cancelling the awaiting task stops the run at once."""
    call, url_list = _fetch_call("fetch", urls, urls_file, **options)
    return _fetch_await(call, url_list)


async def _fetch_await(call, url_list):
    return _fetch_results(await call.start(), url_list)


def fetch_sync(urls=None, urls_file=None, **options):
    """fetch() blocking the calling thread (works with or without a running
    asyncio loop; Ctrl-C stops the run and raises KeyboardInterrupt)."""
    call, url_list = _fetch_call("fetch_sync", urls, urls_file, **options)
    return _fetch_results(call.wait(), url_list)

__all__ = [
    "ClientConnectionError", "ClientConnectorCertificateError", "ClientConnectorError",
    "ClientError", "ClientPayloadError", "ClientResponse", "ClientResponseError",
    "ClientSSLError", "ClientSession", "ClientTimeout", "ContentTypeError", "CookieJar", "Headers",
    "InvalidURL", "RequestInfo", "ServerDisconnectedError", "TooManyRedirects", "sleep",
    "sleep_sync",
]

if _HAVE_FETCH:  # noqa: F821
    __all__ += ["FetchRecord", "FetchResults", "fetch", "fetch_sync"]
else:  # built without corun::fetch
    del fetch, fetch_sync
if not _HAVE_HTTP:  # noqa: F821 (built without corun::http's session)
    del ClientSession
    __all__.remove("ClientSession")
