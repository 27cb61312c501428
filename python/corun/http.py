"""corun's HTTP client with aiohttp's API: ClientSession, ClientResponse,
ClientTimeout, Headers, CookieJar. The transfers run on corun's C++ loop
(python/src/http_binding.cpp); this module checks arguments and shapes
results."""

import asyncio as _asyncio
import collections as _collections
import collections.abc as _abc
import io as _io
import json as _json
from operator import attrgetter as _attrgetter
import os as _os
import re as _re
from urllib.parse import quote as _quote
import warnings as _warnings

from . import _corun
from ._args import SIZE_MAX as _SIZE_MAX
from ._args import check_bool as _check_bool
from ._args import check_int as _check_int
from ._args import check_seconds as _check_seconds
from ._args import check_str as _check_str
from ._args import check_url as _check_url
from ._args import header_list as _header_list
from ._args import type_error as _type_error
from .errors import ClientResponseError, ContentTypeError, RequestInfo, TooManyRedirects
from .url import URL

__all__ = ["ClientResponse", "ClientSession", "ClientTimeout", "CookieJar", "DEFAULT_TIMEOUT",
           "Headers", "StreamReader"]


class ClientTimeout:
    """Timeouts in seconds, None for no limit (aiohttp.ClientTimeout).
    total: the whole request, the wait for a free connection included;
    connect (or sock_connect): establishing a connection (aiohttp's connect
    also counts the wait for a free one: bound that with total); sock_read: the
    longest silence while reading."""

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
_SESSIONS = object()  # a request's timeout when it gives none: the session's


def _timeout_tuple(func, name, value):
    if isinstance(value, ClientTimeout):
        return value._tuple()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        if type(value).__name__ == "ClientTimeout":  # another library's (aiohttp's)
            raise TypeError(
                f"{func}() argument '{name}' must be a corun.ClientTimeout or a number of "
                f"seconds, not {type(value).__module__}.ClientTimeout (corun.ClientTimeout "
                f"takes the same total=, connect=, sock_connect=, sock_read=)")
        raise _type_error(func, name, "a corun.ClientTimeout or a number of seconds", value)
    return (_check_seconds(func, name, value), None, None)


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


class _Links(Headers):
    """resp.links and each of its links: a Headers without its name."""

    __slots__ = ()

    def __repr__(self):
        return f"<Links({self._items!r})>"


# One ;name=value of a Link header's link (the value a token or a quoted string).
_LINK_PARAM = _re.compile(r'\s*;\s*([^\s=;,]+)\s*(?:=\s*("(?:[^"\\]|\\.)*"|[^;,]*))?')
_QUOTED_PAIR = _re.compile(r"\\(.)")


def _parse_links(value):
    """[(target, [(name, value), ...]), ...] of one Link header's value:
    <target>; name=value; name="a, quoted; value", <next target>; ...
    A link that does not parse is skipped up to the next comma."""
    links = []
    at = 0
    while True:
        start = value.find("<", at)
        if start < 0:
            return links
        end = value.find(">", start + 1)
        if end < 0:
            return links
        params = []
        at = end + 1
        while (m := _LINK_PARAM.match(value, at)) is not None:
            name, raw = m.group(1), (m.group(2) or "").strip()
            if len(raw) >= 2 and raw[0] == '"' and raw[-1] == '"':
                raw = _QUOTED_PAIR.sub(r"\1", raw[1:-1])
            params.append((name, raw))
            at = m.end()
        links.append((value[start + 1:end].strip(), params))
        # What is left of this link up to the next comma outside quotes: skipped.
        quoted = False
        while at < len(value) and (quoted or value[at] != ","):
            if value[at] == '"':
                quoted = not quoted
            elif value[at] == "\\" and quoted:
                at += 1
            at += 1


_JSON_TYPE = _re.compile(r"^application/(?:[\w.+-]+?\+)?json$")


class StreamReader:
    """resp.content: aiohttp's StreamReader over a body that has already arrived
    whole (corun buffers it; stream large downloads with corun.fetch, or
    bound them with max_body_size). Its coroutines return at once. A read
    takes bytes from the front; read(), text() and json() of the response
    still give the whole body."""

    __slots__ = ("_body", "_pos")

    def __init__(self, body):
        self._body = body
        self._pos = 0

    def _take(self, n):
        start = self._pos
        end = len(self._body) if n < 0 else min(len(self._body), start + n)
        self._pos = end
        return self._body[start:end]

    def at_eof(self):
        return self._pos >= len(self._body)

    is_eof = at_eof

    def exception(self):
        return None

    @property
    def total_bytes(self):
        return len(self._body)

    def read_nowait(self, n=-1):
        return self._take(_check_int("read_nowait", "n", n, minimum=-_SIZE_MAX, maximum=_SIZE_MAX))

    async def read(self, n=-1):
        """Up to n bytes (all that is left for n < 0); b"" at the end."""
        return self._take(_check_int("read", "n", n, minimum=-_SIZE_MAX, maximum=_SIZE_MAX))

    async def readany(self):
        return self._take(-1)

    async def readchunk(self):
        """(bytes, True): what is left as one chunk; (b"", False) at the end."""
        if self.at_eof():
            return b"", False
        return self._take(-1), True

    async def readexactly(self, n):
        n = _check_int("readexactly", "n", n, maximum=_SIZE_MAX)
        if len(self._body) - self._pos < n:
            partial = self._take(-1)
            raise _asyncio.IncompleteReadError(partial, n)
        return self._take(n)

    async def readuntil(self, separator=b"\n"):
        if not isinstance(separator, (bytes, bytearray)) or not separator:
            raise ValueError("readuntil() argument 'separator' must be non-empty bytes")
        end = self._body.find(separator, self._pos)
        return self._take(-1 if end < 0 else end + len(separator) - self._pos)

    async def readline(self):
        return await self.readuntil(b"\n")

    async def _chunks(self, n):
        while not self.at_eof():
            yield self._take(n)

    def iter_chunked(self, n):
        """async for chunk in resp.content.iter_chunked(n): pieces of n bytes."""
        n = _check_int("iter_chunked", "n", n, minimum=1, maximum=_SIZE_MAX)
        return self._chunks(n)

    def iter_any(self):
        return self._chunks(-1)

    async def _chunk_pairs(self):
        while not self.at_eof():
            yield self._take(-1), True

    def iter_chunks(self):
        return self._chunk_pairs()

    def __aiter__(self):
        return self._lines()

    async def _lines(self):
        while not self.at_eof():
            yield await self.readline()

    def __repr__(self):
        return f"<StreamReader {len(self._body) - self._pos} of {len(self._body)} bytes left>"


HttpVersion = _collections.namedtuple("HttpVersion", ["major", "minor"])
HttpVersion.__doc__ = "An HTTP version, aiohttp's HttpVersion(major, minor)."
_HTTP_VERSIONS = {"1.0": HttpVersion(1, 0), "1.1": HttpVersion(1, 1), "2": HttpVersion(2, 0),
                  "3": HttpVersion(3, 0)}


def _http_version(text):
    known = _HTTP_VERSIONS.get(text)
    if known is not None:
        return known
    major, _, minor = text.partition(".")
    try:
        return HttpVersion(int(major), int(minor or 0))
    except ValueError:  # none reported
        return HttpVersion(0, 0)


def _without_userinfo(url):
    """url without its user:password@, as aiohttp's response and request_info
    show it (the credentials were sent, as Authorization; they stay out of logs
    and tracebacks)."""
    if "@" not in url:
        return url
    start = url.find("://")
    if start < 0:
        return url
    start += 3
    end = len(url)
    for c in "/?#":
        at = url.find(c, start)
        if 0 <= at < end:
            end = at
    at = url.rfind("@", start, end)
    return url if at < 0 else url[:start] + url[at + 1:]


class ClientResponse:
    """A response whose body has arrived (aiohttp.ClientResponse). read(),
    text() and json() are coroutines as in aiohttp (they return at once: the body
    is already here); read_sync(), text_sync(), json_sync() are their twins."""

    __slots__ = ("_r", "_headers", "_history", "_content", "_sent", "_own", "__weakref__")

    # sent, own: the session's headers and User-Agent, and the request's own
    # headers (for request_info); made into Headers only when asked for.
    def __init__(self, native, sent=None, own=None):
        self._r = native
        self._headers = None
        self._history = None
        self._content = None
        self._sent = sent
        self._own = own

    # attrgetter: the native value without a Python frame per read.
    status = property(_attrgetter("_r.status"), doc="The HTTP status code.")
    reason = property(_attrgetter("_r.reason"), doc="The status line's reason phrase.")
    method = property(_attrgetter("_r.method"), doc="The request's method.")
    url = property(lambda self: URL(_without_userinfo(self._r.url)),
                   doc="The final URL, after redirects, without a #fragment and without "
                       "user:password@ (as aiohttp's; a corun.URL: a str with yarl.URL's "
                       "parts, .host, .path, .query, ...).")
    real_url = property(lambda self: URL(_without_userinfo(self._r.real_url)),
                        doc="url with the #fragment the request's URL had, if any.")
    version = property(lambda self: _http_version(self._r.version),
                       doc="HttpVersion(major, minor), as aiohttp's: (1, 1), (2, 0), ...")
    # The body arrived with the response: its connection is back in the pool.
    closed = property(lambda self: True, doc="True: the connection was released (aiohttp's).")
    connection = property(lambda self: None, doc="None: the connection was released.")
    host = property(lambda self: self.url.host,
                    doc="The final URL's host (aiohttp's resp.host): url.host.")
    ok = property(lambda self: self._r.status < 400)
    content_type = property(lambda self: self._r.content_type())
    charset = property(lambda self: self._r.charset())

    @property
    def headers(self):
        if self._headers is None:
            self._headers = Headers(self._r.headers())
        return self._headers

    @property
    def raw_headers(self):
        """The headers as (name, value) bytes pairs, as received (aiohttp's): the
        str headers are UTF-8 with surrogateescape, so the bytes come back whole."""
        return tuple((name.encode("utf-8", "surrogateescape"),
                      value.encode("utf-8", "surrogateescape"))
                     for name, value in self._r.headers())

    @property
    def history(self):
        if self._history is None:
            self._history = tuple(ClientResponse(r, self._sent, self._own)
                                  for r in self._r.history())
        return self._history

    @property
    def request_info(self):
        """What was asked for (aiohttp's resp.request_info): url and real_url
        (this response's), method, and headers: those corun gave libcurl to
        send (the session's, the request's own, User-Agent); libcurl adds
        Host, Accept, Accept-Encoding and Cookie as it sends."""
        return RequestInfo(self.url, self.method, _request_headers(self._sent, self._own),
                           self.real_url)

    @property
    def content(self):
        """The body as aiohttp's StreamReader (await resp.content.read(),
        async for chunk in resp.content.iter_chunked(n))."""
        if self._content is None:
            self._content = StreamReader(self._r.body())
        return self._content

    @property
    def cookies(self):
        """The cookies this response set (its Set-Cookie headers), as
        http.cookies.SimpleCookie, like aiohttp's resp.cookies. The session's
        cookie_jar keeps them for later requests."""
        import http.cookies

        jar = http.cookies.SimpleCookie()
        for value in self.headers.getall("Set-Cookie", ()):
            try:
                jar.load(value)
            except http.cookies.CookieError:
                pass  # one the stdlib cannot parse: left out, as aiohttp does
        return jar

    @property
    def links(self):
        """The Link headers (RFC 8288), as aiohttp's resp.links: a mapping from
        each link's rel (its target when it has none) to its parameters, with
        "url", its target resolved against the response's URL:
        resp.links.get("next", {}).get("url") is the next page's URL, or None.
        Lookups ignore case, as RFC 8288 compares relations."""
        links = []
        for value in self.headers.getall("Link", ()):
            for target, params in _parse_links(value):
                key = next((v for k, v in params if k.lower() == "rel"), target)
                params.append(("url", self.url.join(target)))
                links.append((key, _Links(params)))
        return _Links(links)

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
        if encoding is None and type(errors) is str and errors == "replace":
            return self._r.text("", "replace")  # the usual call: nothing to check
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
                    f"Attempt to decode JSON with unexpected mimetype: {ctype}",
                    url=self.real_url, status=self.status, reason=self.reason,
                    headers=self.headers, history=self.history,
                    request_info=self.request_info)
        text = self.text_sync(encoding)
        return loads(text) if text.strip() else None

    async def read(self):
        return self.read_sync()

    async def text(self, encoding=None, errors="replace"):
        if encoding is None and type(errors) is str and errors == "replace":
            return self._r.text("", "replace")  # text_sync's fast path, one call less
        return self.text_sync(encoding, errors)

    async def json(self, *, encoding=None, loads=_json.loads, content_type="application/json"):
        return self.json_sync(encoding=encoding, loads=loads, content_type=content_type)

    def raise_for_status(self):
        if self._r.status >= 400:
            raise ClientResponseError(url=self.real_url, status=self.status,
                                      reason=self.reason, headers=self.headers,
                                      history=self.history, request_info=self.request_info)

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


def _io_like(value):
    """A file object as aiohttp's data= takes one (open(...), io.BytesIO, io.StringIO)."""
    return isinstance(value, _io.IOBase) or (
        callable(getattr(value, "read", None)) and not isinstance(value, (str, bytes)))


def _file_body(func, f, header_list, session_headers):
    """data=FILE, as aiohttp's IOBasePayload: the rest of the file from where it
    stands, read here; text (a file opened in text mode, io.StringIO) sent as
    UTF-8. Unless a Content-Type is given: the one the file's name suggests
    (mimetypes), else application/octet-stream (text/plain; charset=utf-8 for
    text); a named file also gets aiohttp's `Content-Disposition: attachment;
    filename="..."`. The whole body is held in memory while it is sent."""
    try:
        body = f.read()
    except (OSError, ValueError) as e:  # closed, or not opened for reading
        raise ValueError(f"{func}() argument 'data': cannot read the file: {e}") from e
    if _asyncio.iscoroutine(body):  # an asynchronous reader (aiohttp's StreamReader...)
        body.close()
        raise TypeError(f"{func}() argument 'data': {type(f).__name__}.read() is a coroutine: "
                        "read the body first and send the bytes")
    text = isinstance(body, str)
    if text:
        body = body.encode("utf-8")
    elif isinstance(body, (bytearray, memoryview)):
        body = bytes(body)
    elif not isinstance(body, bytes):
        raise _type_error(func, "data", "a file whose read() gives bytes or str", body)
    name = getattr(f, "name", None)
    name = _os.path.basename(name) if isinstance(name, str) and name else None
    given = {n.lower() for n, _ in (*session_headers, *header_list)}
    if "content-type" not in given:
        import mimetypes  # on first use: a cost of every import otherwise
        guessed = mimetypes.guess_type(name)[0] if name else None
        if guessed and text and guessed.startswith("text/"):
            guessed += "; charset=utf-8"
        header_list.append(("Content-Type", guessed or (
            "text/plain; charset=utf-8" if text else "application/octet-stream")))
    if name and "content-disposition" not in given:
        # Percent-encoded as aiohttp's content_disposition_header quotes it.
        header_list.append(("Content-Disposition",
                            f'attachment; filename="{_quote(name, safe="")}"'))
    return body


class _RequestContextManager:
    """What session.get() returns, as in aiohttp: a coroutine (await it, or give
    it to asyncio.create_task) that is also an async context manager. The
    coroutine behind it is made only when it is used as one: `async with`
    awaits the call's Future directly. It holds its session, as aiohttp's
    request does: a session nothing else refers to (`await
    ClientSession().get(url)`) is closed once its requests are done, not under
    them."""

    __slots__ = ("_call", "_coro", "_resp", "_session", "_own", "_raise")

    def __init__(self, call, session, own=None, raise_=False):
        self._call = call
        self._session = session
        self._own = own  # the request's own headers, for request_info
        self._raise = raise_  # raise_for_status, the request's or the session's
        # None: not used yet; _USED: taken by `async with` or closed before it
        # started; else the coroutine made on first use as one.
        self._coro = None
        self._resp = None

    def _coroutine(self):
        coro = self._coro
        if coro is None:
            coro = self._coro = _await_response(self._call, self._session, self._own,
                                                self._raise)
        elif coro is _USED:
            # Used up: a closed coroutine, whose await raises "cannot reuse
            # already awaited coroutine" as any used-up coroutine's does.
            coro = self._coro = _await_response(self._call, self._session, self._own,
                                                self._raise)
            coro.close()
        return coro

    def send(self, value):
        return self._coroutine().send(value)

    def throw(self, *args):
        return self._coroutine().throw(*args)

    def close(self):
        if self._coro is None:  # never started: nothing to run, as for a coroutine
            self._coro = _USED
            return None
        return self._coroutine().close()

    def __await__(self):
        return self._coroutine().__await__()

    def __del__(self):
        # As a coroutine never awaited says so (the request never ran).
        if self._coro is None:
            _warnings.warn("coroutine 'ClientSession request' was never awaited (await it, "
                           "or use it with `async with`)", RuntimeWarning, stacklevel=2)

    async def __aenter__(self):
        if self._coro is not None:  # already used: its coroutine says so when awaited
            self._resp = await self._coroutine()
            return self._resp
        # `async with session.get(url)`: the call's Future is awaited here, no
        # coroutine made for it.
        self._coro = _USED
        self._resp = ClientResponse(await self._call.start(), self._session._sent, self._own)
        if self._raise:
            self._resp.raise_for_status()
        return self._resp

    async def __aexit__(self, *exc):
        self._resp.release()
        return None


_USED = object()


_abc.Coroutine.register(_RequestContextManager)


def _own_history(e, sent, own):
    """TooManyRedirects from the native session: its history (native
    responses) as ClientResponse objects, and its request_info the first
    one's, as aiohttp's."""
    e.history = tuple(r if isinstance(r, ClientResponse) else ClientResponse(r, sent, own)
                      for r in e.history)
    if e.history:
        e.request_info = e.history[0].request_info


async def _await_response(call, session, own, raise_):
    # session: held until the response is here (see _RequestContextManager).
    try:
        native = await call.start()
    except TooManyRedirects as e:
        _own_history(e, session._sent, own)
        raise
    resp = ClientResponse(native, session._sent, own)
    if raise_:
        # Here rather than in the C++ session: the error then carries the
        # response's headers, history and request_info, as aiohttp's does.
        resp.raise_for_status()
    return resp


def _request_headers(sent, own):
    """The headers corun gives libcurl for a request, as Headers: the session's
    (those the request does not name itself), the request's own, and
    User-Agent unless one of them is it (as src/http/easy_options.cpp)."""
    session_headers, user_agent = sent if sent is not None else ((), "")
    own = own or ()
    names = {name.lower() for name, _ in own}
    items = [(name, value) for name, value in session_headers if name.lower() not in names]
    items.extend(own)
    if user_agent and not any(name.lower() == "user-agent" for name, _ in items):
        items.append(("User-Agent", user_agent))
    return Headers(items)


class CookieJar:
    """The cookies of a ClientSession: those its responses set, kept for its
    later requests (and redirects) to the same site. Iterating gives
    http.cookies.Morsel objects (key, value, ["domain"], ["path"], ["secure"],
    ["httponly"], ["expires"]), as aiohttp's CookieJar does."""

    # every_host: the session's cookies for every host (ClientSession(cookies=),
    # update_cookies without a domain or URL), which libcurl's jar cannot hold:
    # (name, path) -> (coded value, secure, http_only, expires), added to each
    # request's own cookies (_every_host_cookies).
    def __init__(self, native, every_host):
        self._native = native
        self._every_host = every_host

    def _live(self):
        # A cookie a response deleted (an expiry in the past) is kept by libcurl
        # until it next sends to the site; it is gone for the jar's readers now.
        import time

        now = time.time()
        mine = [(name, value, "", path, secure, http_only, expires)
                for (name, path), (value, secure, http_only, expires) in self._every_host.items()]
        return [c for c in (*self._native.cookies(), *mine) if not c[6] or c[6] > now]

    def _morsels(self):
        import http.cookies
        import email.utils
        out = []
        codec = http.cookies.SimpleCookie()
        for name, value, domain, path, secure, http_only, expires in self._live():
            m = http.cookies.Morsel()
            # The value as sent ("two words", quotes included) is the coded one;
            # .value is it unquoted, as aiohttp's jar and resp.cookies give it.
            try:
                m.set(name, *codec.value_decode(value))
            except http.cookies.CookieError:
                # A name http.cookies refuses ("bad\xff", a server's choice): left
                # out of what the jar lists, as resp.cookies leaves it out, rather
                # than failing every look at the jar.
                continue
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
        return len(self._morsels())

    def clear(self):
        """Forgets every cookie."""
        self._native.clear_cookies()
        self._every_host.clear()

    def update_cookies(self, cookies, response_url=None):
        """Puts cookies in the jar, for the session's later requests (aiohttp's
        update_cookies). cookies: a mapping or (name, value) pairs, each value a
        str or an http.cookies.Morsel (a SimpleCookie is such a mapping). With
        response_url, a cookie without a domain attribute goes to that URL's
        host alone, its path defaults to the URL's directory, and one whose
        domain does not cover that host is ignored (as a browser ignores it);
        without, a cookie without a domain goes to every host."""
        self._update("update_cookies", cookies, response_url)

    def _update(self, func, cookies, response_url):
        import http.cookies
        import email.utils
        import time

        if response_url is not None and not isinstance(response_url, str):
            if type(response_url).__name__ != "URL":
                raise _type_error(func, "response_url", "a URL or a str", response_url)
        url = URL(str(response_url)) if response_url else None
        host = (url.host or "").lower() if url is not None else ""
        default_path = "/"
        if url is not None:
            directory = url.raw_path.rpartition("/")[0]
            default_path = directory if directory.startswith("/") else "/"
        if isinstance(cookies, _abc.Mapping):
            pairs = cookies.items()
        elif isinstance(cookies, _abc.Iterable) and not isinstance(cookies, (str, bytes)):
            pairs = cookies
        else:
            raise _type_error(func, "cookies", "a mapping or (name, value) pairs", cookies)
        for name, value in pairs:
            if isinstance(value, http.cookies.Morsel):
                morsel = value
            else:
                if not isinstance(name, str) or not isinstance(value, str):
                    raise TypeError(f"{func}() takes cookies as str names with str or "
                                    f"Morsel values, not {name!r}: {value!r}")
                one = http.cookies.SimpleCookie()
                one[name] = value  # http.cookies.CookieError for a name it refuses
                morsel = one[name]
            domain = morsel["domain"].lower().lstrip(".")
            if domain:
                if host and host != domain and not host.endswith("." + domain):
                    continue  # a domain that does not cover the response's host
                domain = "." + domain
            else:
                domain = host  # that host alone; "" (every host) without a URL
            path = morsel["path"]
            if not path.startswith("/"):
                path = default_path
            expires = 0
            if morsel["max-age"] != "":
                try:
                    expires = int(time.time()) + int(morsel["max-age"])
                except ValueError:
                    pass  # a max-age that is not a number: as if none
                if expires <= 0:
                    expires = 1  # already past: the cookie is deleted
            elif morsel["expires"]:
                try:
                    expires = max(1, int(email.utils.parsedate_to_datetime(
                        morsel["expires"]).timestamp()))
                except (TypeError, ValueError):
                    pass
            if domain:
                self._native.add_cookie(morsel.key, morsel.coded_value, domain, path,
                                        bool(morsel["secure"]), bool(morsel["httponly"]),
                                        expires)
            elif expires and expires <= time.time():
                self._every_host.pop((morsel.key, path), None)
            else:
                self._every_host[(morsel.key, path)] = (
                    morsel.coded_value, bool(morsel["secure"]), bool(morsel["httponly"]), expires)

    def __repr__(self):
        return f"<CookieJar {len(self)} cookies>"


_REQUEST_KEYWORDS = ("headers", "data", "json", "params", "timeout", "allow_redirects",
                     "max_redirects", "raise_for_status", "max_body_size", "cookies", "proxy")
_TLS_HINT = ("TLS verification is a session setting here: ClientSession(verify_tls=False), "
             "or ClientSession(ca_file=PATH) to trust a private CA")
# aiohttp's request keywords corun does not take, and what to do instead.
_KEYWORD_HINTS = {
    "ssl": _TLS_HINT,
    "verify_ssl": _TLS_HINT,
    "ssl_context": _TLS_HINT,
    "fingerprint": _TLS_HINT,
    "server_hostname": _TLS_HINT,
    "auth": "send the header yourself: headers={'Authorization': 'Basic ' + "
            "base64.b64encode(b'user:password').decode()}",
    "proxy_auth": "put the credentials in the proxy's URL: proxy='http://user:password@host:port'",
    "proxy_headers": "not supported: corun sends no extra headers to a proxy",
    "read_until_eof": "not needed: corun reads every body to its end",
    "compress": "not supported: send data already compressed, with a Content-Encoding header",
    "chunked": "not supported: corun sends a body with its Content-Length",
    "expect100": "not supported",
    "trace_request_ctx": "not supported",
}


def _unknown_keyword(func, name):
    hint = _KEYWORD_HINTS.get(name)
    text = f"{func}() got an unexpected keyword argument {name!r}"
    if hint:
        return TypeError(f"{text}: {hint}")
    return TypeError(f"{text} (it takes {', '.join(_REQUEST_KEYWORDS)})")


_SESSION_HINTS = {
    "connector": "corun's session is its own connector: give its settings to ClientSession "
                 "(limit=, limit_per_host=, verify_tls=, ca_file=)",
    "ssl": _TLS_HINT,
    "verify_ssl": _TLS_HINT,
    "version": "HTTP/2 is used where the server offers it; ClientSession(http2=False) for "
               "HTTP/1.1 only",
    "auth": "give the header to every request: ClientSession(headers={'Authorization': ...})",
    "cookie_jar": "the session keeps its own jar (session.cookie_jar); give cookies to one "
                  "request with cookies=",
    "read_timeout": "use timeout=ClientTimeout(sock_read=...)",
    "conn_timeout": "use timeout=ClientTimeout(connect=...)",
    "json_serialize": "not supported: serialize the body yourself and send it as data=",
    "loop": "not needed: a session works in any event loop",
}


def _unknown_session_keyword(name):
    hint = _SESSION_HINTS.get(name)
    text = f"ClientSession() got an unexpected keyword argument {name!r}"
    return TypeError(f"{text}: {hint}" if hint else text)


# What a browser percent-encodes in a URL's path, query and fragment (as UTF-8),
# and aiohttp's yarl too, that libcurl would refuse (a space) or send as raw bytes
# (non-ASCII characters in the query). Control characters stay, for the native
# parse to refuse (InvalidURL).
_URL_UNSAFE = _re.compile(r"[ \x80-\U0010ffff]+")


def _percent_encoded(m):
    return "".join(f"%{b:02X}" for b in m.group().encode("utf-8", "surrogatepass"))


def _encode_url(url):
    """url with the characters a browser would not send as they are
    percent-encoded after the host (http://h/路径 a -> http://h/%E8%B7%AF%E5%BE%84%20a),
    as aiohttp does; the host (an IDN name is the native parse's to convert) and
    anything that is not an http(s) URL are left to the native parse."""
    start = url.find("://")
    if start < 0:
        return url
    end = len(url)
    for c in "/?#":
        i = url.find(c, start + 3)
        if 0 <= i < end:
            end = i
    return url[:end] + _URL_UNSAFE.sub(_percent_encoded, url[end:])


# A cookie value's characters that go as they are (Python's http.cookies, which
# aiohttp's cookies= go through); any other value is sent quoted, its '"' and '\'
# backslash-escaped and other ASCII characters outside the set in octal (\073 for
# ';'), so a space, a ';' or a line break cannot end the cookie or the header.
_COOKIE_PLAIN = _re.compile(r"[A-Za-z0-9!#$%&'*+\-.^_`|~:]+")
_COOKIE_QUOTED_AS_IS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!#$%&'*+-.^_`|~: ()/<=>?@[]{}")


def _cookie_value(value):
    if _COOKIE_PLAIN.fullmatch(value):
        return value
    out = []
    for c in value:
        if c in _COOKIE_QUOTED_AS_IS or ord(c) > 255:
            out.append(c)
        elif c in '"\\':
            out.append("\\" + c)
        else:
            out.append(f"\\{ord(c):03o}")
    return '"' + "".join(out) + '"'


def _cookie_list(func, cookies):
    """cookies= as (name, value) pairs, each value quoted as aiohttp (Python's
    http.cookies) sends it: `b="x y"`, not `b=x y`, which a server's parser drops
    with the rest of the header."""
    pairs = _header_list(func, "cookies", cookies)
    return [(name, _cookie_value(value)) for name, value in pairs] or None


def _every_host_cookies(every_host, url, own):
    """own (a request's cookies= pairs, or None) with the session's cookies for
    every host whose path and secure flag fit url, and that own does not name."""
    import time
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    path = parts.path or "/"
    now = time.time()
    named = {name for name, _ in own or ()}
    out = list(own or ())
    for (name, cookie_path), (value, secure, _, expires) in every_host.items():
        if name in named or (expires and expires <= now) or (secure and parts.scheme != "https"):
            continue
        if path == cookie_path or path.startswith(cookie_path.rstrip("/") + "/"):
            out.append((name, value))
    return out or None


def _urlencoded(func, arg, pairs):
    """A mapping or (name, value) pairs as application/x-www-form-urlencoded
    text (params=, and data= as aiohttp's form): a list value gives the name once
    per item (b=3&b=4); str, int and float values only."""
    from urllib.parse import urlencode  # on first use: a cost of every import

    flat = []
    for pair in (pairs.items() if isinstance(pairs, _abc.Mapping) else pairs):
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise TypeError(f"{func}() argument '{arg}' must hold (name, value) pairs, "
                            f"got {pair!r}")
        name, value = pair
        for v in (value if isinstance(value, (list, tuple)) else (value,)):
            if isinstance(v, bool) or not isinstance(v, (str, int, float)):
                raise TypeError(f"{func}() argument '{arg}': the value of {name!r} must be "
                                f"a str, int or float (or a list of them), got {v!r}"
                                + (" (multipart form data is not supported: send the encoded "
                                   "body as bytes with its Content-Type)"
                                   if arg == "data" else ""))
            flat.append((name, v))
    return urlencode(flat)


def _with_params(func, url, params):
    """url with params added to its query, as aiohttp's params=: a mapping or
    (name, value) pairs, a list value giving the name once per item (b=3&b=4),
    str, int and float values only; or a query string as it is. The query goes
    before a #fragment."""
    if isinstance(params, str):
        query = params
    elif isinstance(params, (_abc.Mapping, list, tuple)):
        query = _urlencoded(func, "params", params)
    else:
        raise _type_error(func, "params", "a mapping, a list of pairs or a str", params)
    if not query:
        return url
    url, hash_, fragment = url.partition("#")
    return url + ("&" if "?" in url else "?") + query + hash_ + fragment


def _base_url(value):
    """aiohttp's base_url: an absolute http(s) URL that relative request URLs
    are resolved against (RFC 3986, urllib.parse.urljoin)."""
    if value is None:
        return None
    value = _check_url("ClientSession", "base_url", value)
    if not value.lower().startswith(("http://", "https://")):
        raise ValueError(f"ClientSession() argument 'base_url' must be an absolute http:// or "
                         f"https:// URL, got {value!r}")
    return value


def _urljoin(base, url):
    from urllib.parse import urljoin  # on first use: a cost of every import

    return urljoin(base, url)


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
                 max_body_size=None, http2=True, auto_decompress=True, base_url=None,
                 cookies=None, **unknown):
        f = "ClientSession"
        self._native = None
        self._closed = False
        self._every_host = {}  # cookies for every host (CookieJar)
        if unknown:
            raise _unknown_session_keyword(next(iter(unknown)))
        self._base_url = _base_url(base_url)
        session_headers = _header_list(f, "headers", headers)
        user_agent = _check_str(f, "user_agent", user_agent)
        # For request_info: what every request sends (see _request_headers).
        self._sent = (tuple(session_headers), user_agent)
        self._raise = _check_bool(f, "raise_for_status", raise_for_status)
        timeout = _timeout_tuple(f, "timeout", timeout)
        self._timeout = ClientTimeout(total=timeout[0], connect=timeout[1],
                                      sock_read=timeout[2])
        self._trust_env = _check_bool(f, "trust_env", trust_env)
        self._auto_decompress = _check_bool(f, "auto_decompress", auto_decompress)
        self._native = _corun._Session(
            limit=_check_int(f, "limit", limit, meaning="0 = no limit"),
            limit_per_host=_check_int(f, "limit_per_host", limit_per_host,
                                       meaning="0 = no limit"),
            timeout=timeout,
            headers=session_headers,
            user_agent=user_agent,
            raise_for_status=False,  # raised here instead (_await_response)
            max_redirects=_check_int(f, "max_redirects", max_redirects),
            verify_tls=_check_bool(f, "verify_tls", verify_tls),
            ca_file=_check_str(f, "ca_file", ca_file, none=True),
            trust_env=self._trust_env,
            proxy=_check_str(f, "proxy", proxy, none=True),
            max_body_size=_check_int(f, "max_body_size", max_body_size, none=True,
                                      maximum=_SIZE_MAX),
            http2=_check_bool(f, "http2", http2),
            auto_decompress=self._auto_decompress)
        if cookies is not None:
            # aiohttp's ClientSession(cookies=...): in the jar, for every host.
            self.cookie_jar._update(f, cookies, None)

    @property
    def closed(self):
        return self._closed

    # What the session was made with, read-only (aiohttp's session properties).
    timeout = property(lambda self: self._timeout,
                       doc="The session's ClientTimeout (a number given was its total).")
    raise_for_status = property(lambda self: self._raise,
                                doc="Whether every response is checked (raise_for_status=).")
    trust_env = property(lambda self: self._trust_env,
                         doc="Whether the proxy comes from the environment (trust_env=).")
    auto_decompress = property(lambda self: self._auto_decompress,
                               doc="Whether bodies are decompressed (auto_decompress=).")

    @property
    def headers(self):
        """The session's default headers (aiohttp's session.headers), a copy:
        they are fixed when the session is made."""
        return Headers(list(self._sent[0]))

    def _call(self, func, method, url, headers=None, data=None, json=None, params=None,
              timeout=_SESSIONS, allow_redirects=True, max_redirects=None, raise_for_status=None,
              max_body_size=None, cookies=None, proxy=None, **unknown):
        if unknown:
            raise _unknown_keyword(func, next(iter(unknown)))
        if self._closed:
            raise RuntimeError("Session is closed")
        method = _check_str(func, "method", method).upper()
        url = _check_url(func, "url", url)
        if self._base_url is not None:
            url = _urljoin(self._base_url, url)
        if not url.isascii() or " " in url:
            url = _encode_url(url)
        header_list = _header_list(func, "headers", headers)
        if params is not None:
            url = _with_params(func, url, params)
        if json is not None:
            if data is not None:
                raise ValueError(f"{func}(): data and json cannot both be given")
            data = _json.dumps(json)
            if not any(name.lower() == "content-type" for name, _ in header_list):
                header_list.append(("Content-Type", "application/json"))
        if isinstance(data, (_abc.Mapping, list, tuple)):
            # A form, as aiohttp's data={...}: urlencoded, labelled so.
            data = _urlencoded(func, "data", data).encode("ascii")
            if not any(name.lower() == "content-type"
                       for name, _ in (*self._sent[0], *header_list)):
                header_list.append(("Content-Type", "application/x-www-form-urlencoded"))
        elif isinstance(data, str):
            data = data.encode("utf-8")
            # aiohttp's label for text (bytes: application/octet-stream, the C++ side's).
            if not any(name.lower() == "content-type"
                       for name, _ in (*self._sent[0], *header_list)):
                header_list.append(("Content-Type", "text/plain; charset=utf-8"))
        elif isinstance(data, (bytearray, memoryview)):
            data = bytes(data)
        elif _io_like(data):
            data = _file_body(func, data, header_list, self._sent[0])
        elif data is not None and not isinstance(data, bytes):
            if isinstance(data, _abc.AsyncIterable) or isinstance(data, _abc.Iterator):
                raise TypeError(
                    f"{func}() argument 'data': a streamed body ({type(data).__name__}) is not "
                    "supported: join it into bytes first, e.g. b''.join([c async for c in gen])")
            raise _type_error(func, "data", "bytes, str, a mapping or (name, value) pairs, "
                              "a file opened for reading, or None", data)
        raise_ = _check_bool(func, "raise_for_status", raise_for_status, none=True)
        raise_ = self._raise if raise_ is None else raise_
        return header_list or None, raise_, self._native.request(
            method=method, url=url, headers=header_list or None, data=data,
            # Not given: the session's. None: no limit at all, as aiohttp's
            # timeout=None (ClientTimeout(total=None)), the way to exempt one
            # long download from the session's total.
            timeout=(None if timeout is _SESSIONS
                     else (None, None, None) if timeout is None
                     else _timeout_tuple(func, "timeout", timeout)),
            allow_redirects=_check_bool(func, "allow_redirects", allow_redirects),
            max_redirects=_check_int(func, "max_redirects", max_redirects, none=True),
            raise_for_status=False,
            max_body_size=_check_int(func, "max_body_size", max_body_size, none=True,
                                      maximum=_SIZE_MAX),
            cookies=(_every_host_cookies(self._every_host, url, _cookie_list(func, cookies))
                     if self._every_host else _cookie_list(func, cookies)),
            proxy=_check_str(func, "proxy", proxy, none=True))

    def _request(self, func, method, url, **kwargs):
        own, raise_, call = self._call(func, method, url, **kwargs)
        return _RequestContextManager(call, self, own, raise_)

    def _request_sync(self, func, method, url, **kwargs):
        own, raise_, call = self._call(func, method, url, **kwargs)
        try:
            native = call.wait()
        except TooManyRedirects as e:
            _own_history(e, self._sent, own)
            raise
        resp = ClientResponse(native, self._sent, own)
        if raise_:
            resp.raise_for_status()
        return resp

    @property
    def cookie_jar(self):
        """The session's cookies (aiohttp's session.cookie_jar): iterate it for
        http.cookies.Morsel objects; len(); clear(); update_cookies()."""
        return CookieJar(self._native, self._every_host)

    # Coroutines (aiohttp's names). Arguments: headers, data, json, params,
    # timeout, allow_redirects, max_redirects, raise_for_status, max_body_size,
    # cookies (this request's own, on top of the jar's), proxy (this request's:
    # replaces the session's; "" for none).
    def request(self, method, url, **kwargs):
        return self._request("request", method, url, **kwargs)

    def get(self, url, **kwargs):
        if kwargs or self._every_host:
            return self._request("get", "GET", url, **kwargs)
        # No options (the scraper's call): nothing else to check.
        if self._closed:
            raise RuntimeError("Session is closed")
        if type(url) is not str:
            url = _check_url("get", "url", url)
        if self._base_url is not None:
            url = _urljoin(self._base_url, url)
        if not url.isascii() or " " in url:
            url = _encode_url(url)
        return _RequestContextManager(self._native.get(url), self, None, self._raise)

    def post(self, url, *, data=None, **kwargs):
        return self._request("post", "POST", url, data=data, **kwargs)

    def put(self, url, *, data=None, **kwargs):
        return self._request("put", "PUT", url, data=data, **kwargs)

    def patch(self, url, *, data=None, **kwargs):
        return self._request("patch", "PATCH", url, data=data, **kwargs)

    def delete(self, url, **kwargs):
        return self._request("delete", "DELETE", url, **kwargs)

    def head(self, url, *, allow_redirects=False, **kwargs):
        return self._request("head", "HEAD", url, allow_redirects=allow_redirects,
                             **kwargs)

    def options(self, url, **kwargs):
        return self._request("options", "OPTIONS", url, **kwargs)

    # Blocking twins.
    def request_sync(self, method, url, **kwargs):
        return self._request_sync("request_sync", method, url, **kwargs)

    def get_sync(self, url, **kwargs):
        return self._request_sync("get_sync", "GET", url, **kwargs)

    def post_sync(self, url, *, data=None, **kwargs):
        return self._request_sync("post_sync", "POST", url, data=data, **kwargs)

    def head_sync(self, url, *, allow_redirects=False, **kwargs):
        return self._request_sync("head_sync", "HEAD", url, allow_redirects=allow_redirects,
                                  **kwargs)

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
