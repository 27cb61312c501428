"""The binding's behaviour, as coroutines: each environment test (asyncio.run,
uvloop, ...) drives the same checks on its own loop."""

import asyncio
import gc
import io
import os
import socket
import sys
import tempfile
import urllib.parse
import weakref

import corun
from support import check, check_eq, free_port, page_text, raises, server_stats, wait_until


async def basic_get(s, base):
    r = await s.get(base + "/page/3")
    check_eq(r.status, 200, "status")
    check(r.ok, "ok")
    check_eq(r.reason, "OK", "reason")
    check_eq(r.method, "GET", "method")
    check_eq(r.url, base + "/page/3", "url")
    check_eq(r.content_type, "text/html", "content_type")
    check_eq(r.charset, None, "charset")
    check_eq(r.headers["content-type"], "text/html", "headers are case-insensitive")
    check("Content-Length" in r.headers, "Content-Length in headers")
    check_eq(await r.text(), page_text(3), "text() decodes the GB18030 page")
    check_eq(r.get_encoding(), "GBK", "encoding from <meta charset=gb2312>")
    check_eq(r.get_encoding_source(), "meta", "encoding source")
    check_eq(await r.read(), page_text(3).encode("gb18030"), "read() gives the bytes")
    check_eq(r.content_length, len(page_text(3).encode("gb18030")), "content_length")

    async with s.get(base + "/page/4") as r4:
        check_eq(await r4.text(), page_text(4), "async with s.get()")


async def statuses_and_errors(s, base):
    r = await s.get(base + "/status/404")
    check_eq(r.status, 404, "404 status")
    check(not r.ok, "404 is not ok")
    with raises(corun.ClientResponseError) as _:
        r.raise_for_status()
    try:
        r.raise_for_status()
    except corun.ClientResponseError as e:
        check_eq(e.status, 404, "ClientResponseError.status")
        check_eq(e.message, "Not Found", "ClientResponseError.message")
        check_eq(e.request_info.url, base + "/status/404", "ClientResponseError.request_info.url")
        check(isinstance(e, corun.ClientError), "ClientResponseError is a ClientError")

    # raise_for_status per request (and per session): the error as raise_for_status()'s,
    # with the response's headers and the request_info.
    try:
        await s.get(base + "/status/503", raise_for_status=True, headers={"X-R": "1"})
        raise AssertionError("no ClientResponseError")
    except corun.ClientResponseError as e:
        check_eq(e.status, 503, "raise_for_status=True: status")
        check_eq(e.url, base + "/status/503", "raise_for_status=True: url")
        check(e.headers is not None and "Content-Length" in e.headers,
              "raise_for_status=True: the response's headers")
        check_eq(e.request_info.headers.get("X-R"), "1", "raise_for_status=True: request_info")
    async with corun.ClientSession(raise_for_status=True) as strict:
        with raises(corun.ClientResponseError, "404"):
            await strict.get(base + "/status/404")
        with raises(corun.ClientResponseError, "404"):
            async with strict.get(base + "/status/404"):
                pass
        check_eq((await strict.get(base + "/status/404", raise_for_status=False)).status, 404,
                 "a request's raise_for_status=False wins over the session's")
        with raises(corun.ClientResponseError, "404"):
            strict.get_sync(base + "/status/404")

    r = await s.get(base + "/redirect/3")
    check_eq(r.status, 200, "redirected status")
    check_eq(r.url, base + "/page/0", "final url")
    # Credentials in the URL are sent (Authorization) and shown nowhere after, as
    # aiohttp's: not in url, real_url, request_info, nor in an error's text.
    creds = base.replace("://", "://alice:s3cret@", 1)
    with_creds = await s.get(creds + "/status/404")
    check_eq((with_creds.url, with_creds.real_url, with_creds.request_info.url),
             (base + "/status/404",) * 3, "no credentials in the response's URLs")
    try:
        with_creds.raise_for_status()
    except corun.ClientResponseError as e:
        check("s3cret" not in str(e) and "alice" not in str(e), f"no credentials in: {e}")
    dead = free_port()
    try:
        await s.get(f"http://alice:s3cret@127.0.0.1:{dead}/")
    except corun.ClientConnectorError as e:
        check("s3cret" not in str(e), f"no credentials in: {e}")
    check_eq(len(r.history), 3, "history")
    check_eq(r.history[0].status, 302, "history status")
    with raises(corun.TooManyRedirects):
        await s.get(base + "/redirect/5", max_redirects=2)
    # aiohttp's e.history: the redirects followed and the one not followed.
    for attempt in (lambda: s.get(base + "/redirect/5", max_redirects=2),
                    lambda: asyncio.to_thread(s.get_sync, base + "/redirect/5",
                                              max_redirects=2)):
        try:
            await attempt()
        except corun.TooManyRedirects as e:
            check_eq([(h.status, h.url) for h in e.history],
                     [(302, base + "/redirect/5"), (302, base + "/redirect/4"),
                      (302, base + "/redirect/3")], "TooManyRedirects.history")
            check_eq(e.history[-1].headers["Location"], "/redirect/2", "the hop not taken")
            check_eq(e.request_info.url, base + "/redirect/5", "the first request's info")
        else:
            raise AssertionError("TooManyRedirects was not raised")
    # An absolute Location with spaces (and a tab) is followed as browsers and
    # aiohttp follow it, the spaces percent-encoded, as a relative one already was.
    for location, sent in [(base + "/echo/a b?q=a b", "/echo/a%20b?q=a%20b"),
                           (" " + base + "/echo/t\tab ", "/echo/tab"),
                           ("/echo/rel ative", "/echo/rel%20ative")]:
        r = await s.get(base + "/goto?to=" + urllib.parse.quote(location, safe=""))
        check_eq((r.status, (await r.json())["path"]), (200, sent), f"Location {location!r}")

    dead = free_port()
    with raises(corun.ClientConnectorError):
        await s.get(f"http://127.0.0.1:{dead}/")
    # As aiohttp's: an OSError (ClientOSError) naming the host and port it tried.
    try:
        await s.get(f"http://127.0.0.1:{dead}/")
    except OSError as e:
        check_eq((type(e).__name__, e.host, e.port, e.ssl),
                 ("ClientConnectorError", "127.0.0.1", dead, False), "an OSError with host, port")
    # aiohttp 3.10's ClientConnectorDNSError, a ClientConnectorError: old handlers still catch it.
    with raises(corun.ClientConnectorDNSError, "cannot resolve host"):
        await s.get("http://no-such-host.invalid/x")
    check_eq(issubclass(corun.ClientConnectorDNSError, corun.ClientConnectorError), True,
             "ClientConnectorDNSError is a ClientConnectorError")
    with raises(corun.InvalidURL):
        await s.get("gopher:/nowhere")
    with raises(corun.ClientPayloadError):
        await s.get(base + "/truncated")
    with raises(TimeoutError):
        await s.get(base + "/hang", timeout=corun.ClientTimeout(total=0.3))
    with raises(asyncio.TimeoutError):
        await s.get(base + "/hang", timeout=0.3)
    # Nothing received for sock_read: aiohttp's ServerTimeoutError, both a
    # ClientError (a retry loop's `except ClientError` sees it) and a TimeoutError.
    try:
        await s.get(base + "/hang", timeout=corun.ClientTimeout(sock_read=0.3))
        check(False, "no sock_read timeout")
    except corun.ClientError as e:
        check_eq((type(e).__name__, isinstance(e, asyncio.TimeoutError),
                  isinstance(e, corun.ServerConnectionError)),
                 ("ServerTimeoutError", True, True), "sock_read: ServerTimeoutError")
    # No connection within the connect timeout (a listener whose accept queue is
    # full: its SYNs go unanswered): ServerTimeoutError too, as aiohttp's.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    fillers = [socket.socket() for _ in range(3)]
    try:
        for f in fillers:
            f.setblocking(False)
            f.connect_ex(listener.getsockname())
        try:
            await s.get("http://127.0.0.1:%d/" % listener.getsockname()[1],
                        timeout=corun.ClientTimeout(total=10, connect=0.3))
            check(False, "no connect timeout")
        except corun.ClientError as e:
            check_eq((type(e).__name__, isinstance(e, asyncio.TimeoutError)),
                     ("ServerTimeoutError", True), "connect: ServerTimeoutError")
    finally:
        for f in fillers:
            f.close()
        listener.close()
    # A request's timeout=None is no limit, not the session's (aiohttp's meaning):
    # the way to exempt one slow download from the session's total.
    async with corun.ClientSession(timeout=corun.ClientTimeout(total=0.2)) as short:
        r = await short.get(base + "/delay/600", timeout=None)
        check_eq(r.status, 200, "timeout=None: no limit")
        with raises(TimeoutError):
            await short.get(base + "/delay/600")  # not given: the session's 0.2 s
    # The total timeout stays a plain TimeoutError, as aiohttp's.
    try:
        await s.get(base + "/hang", timeout=corun.ClientTimeout(total=0.3))
    except TimeoutError as e:
        check_eq(isinstance(e, corun.ClientError), False, "total: not a ClientError")
    check(issubclass(corun.ServerDisconnectedError, corun.ServerConnectionError),
          "ServerDisconnectedError is a ServerConnectionError")


async def request_info(base):
    # aiohttp's resp.url drops the #fragment, resp.real_url keeps it; request_info
    # holds the headers corun sent (the session's, the request's own winning by
    # name, User-Agent), each of which the server received.
    async with corun.ClientSession(headers={"X-Session": "s", "X-Both": "session"},
                                   user_agent="corun-test/1") as s:
        r = await s.post(base + "/echo#part", headers={"x-both": "request"}, data=b"hi")
        check_eq(r.url, base + "/echo", "url drops the fragment")
        check_eq(r.real_url, base + "/echo#part", "real_url keeps it")
        # aiohttp's are yarl.URL objects: corun's are str with the same parts.
        port = int(base.rsplit(":", 1)[1])
        check_eq((type(r.url).__name__, r.url.scheme, r.url.host, r.url.port, r.url.path,
                  r.real_url.fragment, r.version, r.closed),
                 ("URL", "http", "127.0.0.1", port, "/echo", "part", (1, 1), True),
                 "url, real_url, version and closed as aiohttp's")
        q = (await s.get(base + "/echo?q=a%20b&q=2&e=")).url
        check_eq((q.query["q"], q.query.getall("q"), q.query.get("e"), q.query.get("x"),
                  q.query_string, q.raw_query_string, q.name),
                 ("a b", ["a b", "2"], "", None, "q=a b&q=2&e=", "q=a%20b&q=2&e=", "echo"),
                 "url.query as yarl's")
        check_eq(repr(q), f"URL('{base}/echo?q=a%20b&q=2&e=')", "repr as yarl's")
        info = r.request_info
        check_eq((info.url, info.method, info.real_url),
                 (base + "/echo", "POST", base + "/echo#part"),
                 "request_info url, method, real_url")
        check_eq(info.headers.items(),
                 [("X-Session", "s"), ("x-both", "request"), ("User-Agent", "corun-test/1")],
                 "request_info.headers: the session's, the request's own, User-Agent")
        received = {(k.lower(), v) for k, v in (await r.json())["headers"]}
        for name, value in info.headers.items():
            check((name.lower(), value) in received, f"the server received {name}: {value}")
        check(("x-both", "session") not in received, "the request's header replaced the session's")

        r = await s.get(base + "/status/404#x")
        try:
            r.raise_for_status()
            raise AssertionError("no ClientResponseError")
        except corun.ClientResponseError as e:
            check_eq(e.request_info.headers.get("X-Session"), "s",
                     "the error's request_info has the request's headers")
            check("Content-Length" not in e.request_info.headers,
                  "and not the response's")
            check_eq(e.headers.get("Content-Length"), r.headers.get("Content-Length"),
                     "the error's headers are the response's")
            check_eq(e.request_info.real_url, base + "/status/404#x", "the error's real_url")


async def request_bodies_and_params(s, base):
    # As aiohttp: bytes are application/octet-stream, str text/plain (libcurl's
    # own label would be a form's); a GET's body is sent; params lists repeat
    # the name, and the query goes before a #fragment.
    async def echo(method, **kwargs):
        r = await s.request(method, base + "/echo", **kwargs)
        e = await r.json()
        return e, {k.lower(): v for k, v in e["headers"]}

    e, h = await echo("POST", data=b"\x00\x01")
    check_eq((h.get("content-type"), e["body"]), ("application/octet-stream", "\x00\x01"),
             "bytes: application/octet-stream")
    e, h = await echo("POST", data="h\u00e9llo")
    check_eq(h.get("content-type"), "text/plain; charset=utf-8", "str: text/plain")
    # A form, as aiohttp's data={...}: urlencoded and labelled so; pairs too.
    e, h = await echo("POST", data={"a": "1", "b": "x y", "c": ["\u4e2d", 2]})
    check_eq((e["body"], h.get("content-type")),
             ("a=1&b=x+y&c=%E4%B8%AD&c=2", "application/x-www-form-urlencoded"), "a form")
    e, h = await echo("POST", data=[("a", "1"), ("a", "2")])
    check_eq(e["body"], "a=1&a=2", "a form from pairs")
    with raises(TypeError, "multipart"):
        s.post(base + "/echo", data={"file": b"bytes"})
    # A file, as aiohttp's data=open(...): the rest of it from where it stands,
    # labelled by its name, with aiohttp's Content-Disposition; text as UTF-8.
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "a b.json")
        with open(path, "wb") as f:
            f.write(b'xx{"k": "\xe4\xb8\xad"}')
        with open(path, "rb") as f:
            f.seek(2)
            e, h = await echo("POST", data=f)
        check_eq((e["body"], h.get("content-type"), h.get("content-disposition")),
                 ('{"k": "\u00e4\u00b8\u00ad"}', "application/json",
                  'attachment; filename="a%20b.json"'), "a binary file")
        with open(path, encoding="utf-8") as f:
            e, h = await echo("PUT", data=f, headers={"Content-Type": "text/x-mine"})
        check_eq((e["body"].encode("latin-1").decode("utf-8"), h.get("content-type")),
                 ('xx{"k": "\u4e2d"}', "text/x-mine"), "a text file, the caller's label kept")
    e, h = await echo("POST", data=io.BytesIO(b"\x00raw"))
    check_eq((e["body"], h.get("content-type"), h.get("content-disposition")),
             ("\x00raw", "application/octet-stream", None), "io.BytesIO: no name")
    e, h = await echo("POST", data=io.StringIO("h\u00e9"))
    check_eq((e["body"], h.get("content-type")), ("h\u00c3\u00a9", "text/plain; charset=utf-8"),
             "io.StringIO: UTF-8 text")
    closed = io.BytesIO(b"x")
    closed.close()
    with raises(ValueError, "cannot read the file"):
        s.post(base + "/echo", data=closed)

    async def chunks():
        yield b"a"
    gen = chunks()
    with raises(TypeError, "join it into bytes first"):
        s.post(base + "/echo", data=gen)
    await gen.aclose()
    form = "application/x-www-form-urlencoded"
    e, h = await echo("PUT", data=b"x", headers={"Content-Type": form})
    check_eq(h.get("content-type"), form, "the caller's label kept")
    e, h = await echo("GET", json={"q": 1})
    check_eq((e["method"], e["body"], h.get("content-type")),
             ("GET", '{"q": 1}', "application/json"), "a GET's body is sent")
    e, h = await echo("GET")
    check_eq((e["body"], h.get("content-type")), ("", None), "a GET without data sends none")
    e, _ = await echo("GET", params={"b": ["3", "4"], "n": 5})
    check_eq(e["path"], "/echo?b=3&b=4&n=5", "a list value repeats its name")
    e, _ = await echo("GET", params="a=1&b=2")
    check_eq(e["path"], "/echo?a=1&b=2", "a query string as it is")
    r = await s.get(base + "/echo#frag", params={"a": "1"})
    check_eq((await r.json())["path"], "/echo?a=1", "the query goes before the fragment")
    check_eq(r.real_url, base + "/echo?a=1#frag", "and the fragment stays after it")
    for bad in (None, True, object()):
        with raises(TypeError, "params"):
            s.get(base + "/echo", params={"a": bad})
    # A space and non-ASCII characters are percent-encoded (UTF-8), as a browser
    # and aiohttp send them, where libcurl would refuse the first and send the
    # query's raw; with keywords (request()) and without (get()).
    sent = "/echo/%E8%B7%AF%E5%BE%84%20a?q=%E4%B8%AD%E6%96%87%20x"
    r = await s.get(base + "/echo/路径 a?q=中文 x#片")
    check_eq((await r.json())["path"], sent, "get(): encoded as a browser does")
    check_eq(r.real_url, base + sent + "#%E7%89%87", "real_url: the URL as sent")
    r = await s.request("GET", base + "/echo/路径 a?q=中文 x", params={"n": 1})
    check_eq((await r.json())["path"], sent + "&n=1", "request(): the same")
    with raises(corun.InvalidURL, "whitespace"):
        await s.get(base + "/echo/a\nb")  # a line break is refused, not encoded


async def bodies(s, base):
    r = await s.post(base + "/echo", json={"a": 1}, headers={"X-Test": "yes"})
    echo = await r.json()
    check_eq(echo["method"], "POST", "method echoed")
    check_eq(echo["body"], '{"a": 1}', "json body sent")
    names = {k.lower(): v for k, v in echo["headers"]}
    check_eq(names.get("x-test"), "yes", "request header sent")
    check_eq(names.get("content-type"), "application/json", "json sets Content-Type")
    raw = dict(r.raw_headers)
    check_eq(raw.get(b"Content-Type"), b"application/json", "raw_headers: bytes pairs")
    r = await s.get(base + "/rawheader")
    check_eq((r.headers["X-Raw"], dict(r.raw_headers).get(b"X-Raw")),
             ("caf\u00e9 \udcff", b"caf\xc3\xa9 \xff"),
             "a header's text (surrogateescape) and its bytes as received (were latin-1)")
    r = await s.get(base + "/echo", params={"q": "a b"})
    check_eq((await r.json())["path"], "/echo?q=a+b", "params")
    check_eq(await (await s.get(base + "/json")).json(), {"ok": True, "items": [1, 2, 3]}, "json()")
    try:
        await (await s.get(base + "/page/1")).json()
        raise AssertionError("ContentTypeError was not raised")
    except corun.ContentTypeError as e:
        # .message explains, as aiohttp's (it was the reason phrase, "OK").
        check(e.message.startswith("Attempt to decode JSON with unexpected mimetype: text/html"),
              f"ContentTypeError.message: {e.message!r}")


async def text_widths(s, base):
    # text() gives the canonical str of each width (ASCII, Latin-1, the BMP,
    # beyond), mixed, and U+FFFD for bytes that are not UTF-8 (maximal
    # subparts, as the Encoding Standard says).
    cases = [
        ("", b""),
        ("plain ASCII", b"plain ASCII"),
        ("caf\u00e9 na\u00efve \u00ff", None),
        ("\u4e2d\u6587 \u00e9 a", None),
        ("\U0001F600 \u4e2d \u00e9 z", None),
        ("ok \ufffd\ufffd end", b"ok \xff\xfe end"),
        ("a\ufffd b\ufffd c\ufffd d", b"a\xc3 b\xe4\xb8 c\xf0\x9f\x98 d"),
    ]
    for text, body in cases:
        body = text.encode() if body is None else body
        r = await s.get(base + "/bytes" + (f"/{body.hex()}" if body else ""))
        got = await r.text()
        check_eq(got, text, f"text() of {body!r}")
        check_eq(r.text_sync(encoding="utf-8"), text, f"text_sync(encoding='utf-8') of {body!r}")
        check_eq(max(map(ord, got), default=0), max(map(ord, text), default=0),
                 f"the widest character of {body!r}")
        # A non-ASCII str carries the UTF-8 it came from (CPython's UTF-8 cache:
        # sys.getsizeof counts it), and encodes and saves to exactly those bytes.
        fresh = (text + "x")[:-1]  # the same text, built here: no UTF-8 cache
        extra = len(text.encode()) + 1 if not text.isascii() else 0
        check_eq(sys.getsizeof(got), sys.getsizeof(fresh) + extra,
                 f"sys.getsizeof(text()) of {body!r} (its UTF-8 cache)")
        check_eq(got.encode(), text.encode(), f"text().encode() of {body!r}")
        check_eq(got.encode("utf-16-le"), text.encode("utf-16-le"), f"UTF-16 of {body!r}")
        check_eq(got[1:], text[1:], f"a slice of text() of {body!r}")
        check_eq(hash(got), hash(fresh), f"hash of text() of {body!r}")
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "page.html")
            with open(path, "w", encoding="utf-8-sig") as f:
                f.write(got)
            with open(path, "rb") as f:
                check_eq(f.read(), b"\xef\xbb\xbf" + text.encode(), f"saved text() of {body!r}")
    # errors="strict": UnicodeDecodeError as bytes.decode raises it, the body as its
    # object, start and end around the byte that is not UTF-8 (the BOM counted).
    body = b"\xef\xbb\xbfA\xe9"
    r = await s.get(base + "/bytes/" + body.hex())
    try:
        await r.text(errors="strict")
    except UnicodeDecodeError as e:
        check_eq((e.object, e.start, e.end), (body, 4, 5), "UnicodeDecodeError's object and span")
        check_eq(e.object[e.start:e.end], b"\xe9", "the byte that could not be decoded")
        check("0xe9 in position 4" in str(e), f"its message names the byte: {e}")
    else:
        raise AssertionError("text(errors='strict') of bytes that are not UTF-8 did not raise")


async def cancellation(s, base):
    # Cancelling the awaiting task stops the C++ transfer: the server sees the client leave.
    started = server_stats(base)["slow_started"]
    task = asyncio.create_task(s.get(base + "/slow"))
    while server_stats(base)["slow_started"] == started:
        await asyncio.sleep(0.02)
    check_eq(server_stats(base)["slow_active"], 1, "one slow transfer running")
    task.cancel()
    with raises(asyncio.CancelledError):
        await task
    wait_until(lambda: server_stats(base)["slow_active"] == 0, "the transfer to stop")

    # A timeout around it (asyncio.wait_for cancels it the same way).
    with raises(asyncio.TimeoutError):
        await asyncio.wait_for(s.get(base + "/slow"), 0.2)
    wait_until(lambda: server_stats(base)["slow_active"] == 0, "the transfer to stop")

    # The session is still usable.
    check_eq((await s.get(base + "/page/2")).status, 200, "session usable after cancellations")

    # corun.sleep is cancellable too.
    task = asyncio.create_task(corun.sleep(30))
    await asyncio.sleep(0)
    task.cancel()
    with raises(asyncio.CancelledError):
        await task


async def concurrency(s, base):
    responses = await asyncio.gather(*(s.get(f"{base}/page/{n}") for n in range(60)))
    for n, r in enumerate(responses):
        check_eq(await r.text(), page_text(n), f"page {n}")
    # Blocking twin inside a running loop: works (the C++ loop is on its own thread).
    r = s.get_sync(base + "/page/7")
    check_eq(r.text_sync(), page_text(7), "get_sync inside a running loop")
    check_eq(await corun.sleep(0.01, result="x"), "x", "sleep result")


async def argument_types(s, base):
    with raises(TypeError, "'url'"):
        s.get(123)
    with raises(TypeError, "'headers'"):
        s.get(base, headers=5)
    with raises(TypeError, "'timeout'"):
        s.get(base, timeout="soon")
    with raises(TypeError, "'limit'"):
        corun.ClientSession(limit="many")
    with raises(TypeError, "'raise_for_status'"):
        corun.ClientSession(raise_for_status=1)
    with raises(TypeError, "'delay'"):
        corun.sleep("1")
    r = await s.get(base + "/page/0")
    with raises(TypeError, "'encoding'"):
        await r.text(encoding=8)
    with raises(LookupError):
        await r.text(encoding="no-such-encoding")
    # Python's spelling of a label the standard spells otherwise: the error says which.
    with raises(LookupError, 'did you mean "latin1", windows-1252?'):
        await r.text(encoding="latin-1")
    # A line break would start a header (or a request) of its own: ValueError, as aiohttp.
    with raises(ValueError, "CR, LF"):
        await s.get(base + "/echo", headers={"X-A": "a\r\nX-Injected: 1"})
    with raises(ValueError, "cookie"):
        await s.get(base + "/echo", cookies={"c\nX-Injected: 1": "v"})
    with raises(ValueError, "method"):
        await s.request("GET / HTTP/1.1\r\nHost: x\r\n\r\nGET", base + "/echo")


async def cookies(s, base):
    s.cookie_jar.clear()
    r = await s.get(base + "/setcookie")
    check_eq(r.status, 200, "/setcookie")
    jar = list(s.cookie_jar)
    check_eq(len(s.cookie_jar), 1, "the jar keeps the cookie the response set")
    check_eq((jar[0].key, jar[0].value, jar[0]["domain"], jar[0]["path"]),
             ("sid", "py", "127.0.0.1", "/"), "the cookie's fields")
    echo = await (await s.get(base + "/echo", cookies={"lang": "zh"})).json()
    sent = [v for k, v in echo["headers"] if k.lower() == "cookie"]
    check_eq(sent, ["sid=py; lang=zh"], "the jar's cookie and the request's own are sent")
    # Values a cookie cannot hold as they are go quoted, as aiohttp (Python's
    # http.cookies) sends them: a space, a ';', a line break (no header injected).
    echo = await (await s.get(base + "/echo", cookies={"b": "x y", "c": "1;d=2",
                                                       "e": "v\nX-Injected: 1"})).json()
    sent = [v for k, v in echo["headers"] if k.lower() == "cookie"]
    check_eq(sent, ['sid=py; b="x y"; c="1\\073d=2"; e="v\\012X-Injected: 1"'], "quoted values")
    check_eq([k for k, _ in echo["headers"] if k.lower() == "x-injected"], [], "nothing injected")
    # A quoted value reads unquoted (.coded_value keeps the quotes), in the jar as
    # in resp.cookies and aiohttp's jar (the jar gave '"two words"').
    r = await s.get(base + "/setquoted")
    quoted = [m for m in s.cookie_jar if m.key == "q"]
    check_eq([(m.value, m.coded_value) for m in quoted], [("two words", '"two words"')],
             "the jar unquotes a quoted value")
    check_eq(r.cookies["q"].value, "two words", "resp.cookies agrees")
    s.cookie_jar.clear()
    await s.get(base + "/setcookie")
    # A cookie the server deletes is gone from the jar's view at once.
    await s.get(base + "/delcookie")
    check_eq((len(s.cookie_jar), list(s.cookie_jar)), (0, []), "a deleted cookie is gone")
    await s.get(base + "/setcookie")
    s.cookie_jar.clear()
    check_eq(len(s.cookie_jar), 0, "clear() empties the jar")
    # A cookie whose name http.cookies refuses does not break a look at the jar.
    await s.get(base + "/setbadcookie")
    check_eq(sorted(m.key for m in s.cookie_jar), ["good"], "the jar lists what it can")
    check_eq(len(s.cookie_jar), 1, "and counts what it lists")
    s.cookie_jar.clear()
    echo = await (await s.get(base + "/echo")).json()
    check_eq([v for k, v in echo["headers"] if k.lower() == "cookie"], [], "nothing sent after clear()")
    with raises(TypeError, "'cookies'"):
        await s.get(base + "/echo", cookies=5)


async def streams_and_cookies(s, base):
    """aiohttp's resp.content (a StreamReader) and resp.cookies."""
    body = page_text(5).encode("gb18030")
    r = await s.get(base + "/page/5")
    c = r.content
    check(c is r.content, "one StreamReader per response")
    check_eq(c.total_bytes, len(body), "total_bytes")
    first = await c.read(7)
    line = await c.readline()
    rest = await c.read()
    check_eq(first, body[:7], "read(7)")
    check(line.endswith(b"\n") or line == body[7:], "readline() ends at a newline or the end")
    check_eq(first + line + rest, body, "read(n), readline(), read() give the body in order")
    check(c.at_eof(), "at_eof() after the last byte")
    check_eq(await c.read(), b"", "read() at the end")
    check_eq(await c.readchunk(), (b"", False), "readchunk() at the end")
    check_eq(await r.read(), body, "read() still gives the whole body")

    r = await s.get(base + "/page/5")
    chunks = [chunk async for chunk in r.content.iter_chunked(100)]
    check_eq(b"".join(chunks), body, "iter_chunked(100) gives the body")
    check_eq([len(x) for x in chunks[:-1]], [100] * (len(chunks) - 1), "chunks of 100 bytes")
    r = await s.get(base + "/page/5")
    check_eq(b"".join([x async for x in r.content.iter_any()]), body, "iter_any()")
    r = await s.get(base + "/page/5")
    lines = [x async for x in r.content]
    check_eq(b"".join(lines), body, "async for line in resp.content")
    check(all(x.endswith(b"\n") for x in lines[:-1]), "lines end at newlines")
    r = await s.get(base + "/page/5")
    check_eq(await r.content.readexactly(10), body[:10], "readexactly(10)")
    try:
        await r.content.readexactly(len(body))
        raise AssertionError("no IncompleteReadError")
    except asyncio.IncompleteReadError as e:
        check_eq((e.partial, e.expected), (body[10:], len(body)), "IncompleteReadError")
    with raises(ValueError, "'n'"):
        r.content.iter_chunked(0)

    r = await s.get(base + "/setcookie")
    check_eq([(m.key, m.value, m["path"]) for m in r.cookies.values()], [("sid", "py", "/")],
             "resp.cookies: the response's Set-Cookie")
    check_eq(len((await s.get(base + "/page/1")).cookies), 0, "no Set-Cookie: no cookies")


async def keywords_and_proxies(s, base):
    """A request's own proxy (aiohttp's proxy=), and aiohttp's keywords corun does
    not take: a TypeError naming the method and saying what to do instead."""
    before = server_stats(base)["proxied"]
    r = await s.get("http://corun-proxy-test.invalid/page/3", proxy=base)
    check_eq((r.status, await r.text()), (200, page_text(3)), "a page through the request's proxy")
    check_eq(server_stats(base)["proxied"], before + 1, "the proxy saw the request")
    async with corun.ClientSession(proxy=f"http://127.0.0.1:{free_port()}") as dead:
        with raises(corun.ClientConnectorError):
            await dead.get(base + "/page/1")
        r = await dead.get(base + "/page/1", proxy="")
        check_eq(r.status, 200, 'proxy="": no proxy for this request')
    with raises(TypeError, "'proxy'"):
        s.get(base, proxy=8080)
    with raises(TypeError, "get() got an unexpected keyword argument 'ssl': TLS verification "
                "is a session setting here: ClientSession(verify_tls=False)"):
        s.get(base, ssl=False)
    with raises(TypeError, "post() got an unexpected keyword argument 'auth': send the header"):
        s.post(base, auth=("user", "password"))
    with raises(TypeError, "request() got an unexpected keyword argument 'colour' (it takes "
                "headers, data"):
        s.request("GET", base, colour="red")
    with raises(TypeError, "get_sync() got an unexpected keyword argument 'verify_ssl'"):
        s.get_sync(base, verify_ssl=False)
    # The session's own: aiohttp's TCPConnector is the session here.
    with raises(TypeError, "ClientSession() got an unexpected keyword argument 'connector': "
                "corun's session is its own connector"):
        corun.ClientSession(connector=None)
    with raises(TypeError, "ClientSession() got an unexpected keyword argument 'frobnicate'"):
        corun.ClientSession(frobnicate=True)
    # aiohttp's base_url: relative request URLs resolve against it.
    async with corun.ClientSession(base_url=base + "/page/") as b:
        check_eq(await (await b.get("2")).text(), page_text(2), "base_url + a relative URL")
        check_eq(await (await b.get("/page/3")).text(), page_text(3), "base_url + an absolute path")
        check_eq((await b.get(base + "/status/404")).status, 404, "an absolute URL as it is")
        check_eq((await b.get(base + "/status/204")).status, 204, "a 204")
        check_eq(await (await b.get("7")).text(), page_text(7), "the connection after a 204")
        echo = await (await b.post("../echo?q=1", data="x")).json()
        check_eq((echo["method"], echo["path"]), ("POST", "/echo?q=1"), "post() with base_url")
    with raises(ValueError, "'base_url' must be an absolute http:// or https:// URL"):
        corun.ClientSession(base_url="page/1")


async def links_and_settings(s, base):
    """aiohttp's resp.links (Link headers), resp.host and the session's
    settings read back."""
    r = await s.get(base + "/links")
    links = r.links
    check_eq(len(links), 4, "four links in two Link headers")
    check_eq(links["next"]["url"], base + "/page/2", "rel=next, resolved against the URL")
    check_eq(links["NEXT"]["rel"], "next", "relations compared without case")
    check_eq(links["last"]["url"], base + "/page/9", "an unquoted rel")
    other = links["http://other.example/x"]
    check_eq((other["title"], other["url"]), ('a, b; "c"', "http://other.example/x"),
             "no rel: keyed by the target; a quoted value keeps its comma and ';'")
    check_eq((links["up"]["url"], links["up"]["type"]), (base + "/up", "text/html"),
             "the second header's link")
    check(links.get("prev") is None, "a relation not there")
    check_eq(len((await s.get(base + "/page/1")).links), 0, "no Link header: no links")
    check_eq(r.host, "127.0.0.1", "resp.host")
    check_eq(s.timeout, corun.ClientTimeout(total=300, connect=30), "the default timeout")
    check_eq((s.raise_for_status, s.auto_decompress, s.trust_env), (False, True, False),
             "the session's settings")
    async with corun.ClientSession(timeout=5, raise_for_status=True) as t:
        check_eq((t.timeout, t.raise_for_status), (corun.ClientTimeout(total=5), True),
                 "a number as timeout is its total")


def sent_cookies(echo):
    values = [v for k, v in echo["headers"] if k.lower() == "cookie"]
    return sorted(values[0].split("; ")) if values else []


async def cookie_updates(base):
    """aiohttp's ClientSession(cookies=...) and cookie_jar.update_cookies()."""
    import http.cookies

    with raises(TypeError, "'cookies'"):
        corun.ClientSession(cookies=5)
    async with corun.ClientSession(cookies={"pref": "dark"}) as s:
        echo = await (await s.get(base + "/echo")).json()
        check_eq(sent_cookies(echo), ["pref=dark"], "the session's cookies= are sent")
        check_eq([(m.key, m["domain"]) for m in s.cookie_jar], [("pref", "")],
                 "a cookie for every host lists no domain")
        jar = s.cookie_jar
        jar.update_cookies({"a": "1"}, response_url=corun.URL(base + "/echo"))
        jar.update_cookies({"elsewhere": "1"}, response_url="http://example.com/")
        jar.update_cookies({"deep": "1"}, response_url=base + "/x/y")
        quoted = http.cookies.SimpleCookie()
        quoted["q"] = "two words"
        foreign = http.cookies.SimpleCookie()
        foreign.load("d=1; Domain=example.com")
        jar.update_cookies(quoted)
        jar.update_cookies(foreign, response_url=base + "/")
        check("d" not in [m.key for m in jar], "a domain that does not cover the URL's host: ignored")
        echo = await (await s.get(base + "/echo")).json()
        check_eq(sent_cookies(echo), ["a=1", "pref=dark", 'q="two words"'],
                 "host-only and path-scoped cookies where they belong; a Morsel's coded value")
        check_eq(sorted(m.key for m in jar), ["a", "deep", "elsewhere", "pref", "q"],
                 "the jar lists them all")
        gone = http.cookies.SimpleCookie()
        gone["pref"] = ""
        gone["pref"]["max-age"] = 0
        jar.update_cookies(gone)
        check("pref" not in [m.key for m in jar], "max-age=0 deletes a cookie")
        echo = await (await s.get(base + "/echo")).json()
        check_eq(sent_cookies(echo), ["a=1", 'q="two words"'], "and it is no longer sent")
        with raises(http.cookies.CookieError):
            jar.update_cookies({"bad name": "v"})
        with raises(TypeError, "response_url"):
            jar.update_cookies({"a": "1"}, response_url=5)


async def closing():
    s = corun.ClientSession()
    await s.close()
    check(s.closed, "closed")
    with raises(RuntimeError, "closed"):
        await s.get("http://127.0.0.1:1/")
    await s.close()  # idempotent


async def unreferenced_sessions(base):
    """A session nothing refers to but its running requests (the one-liner
    `await corun.ClientSession().get(url)`, or tasks started from a session
    that then goes away) is not closed under them: they complete, as with
    aiohttp, whose request holds its session; then it goes (and is closed)."""
    r = await corun.ClientSession().get(base + "/delay/300")
    check_eq(r.status, 200, "the one-liner's status")
    check_eq(await r.text(), page_text(300), "the one-liner's page")
    s = corun.ClientSession(limit=1)
    await (await s.get(base + "/page/1")).text()  # its C++ session exists now
    tasks = [asyncio.ensure_future(s.get(f"{base}/delay/{200 + n}")) for n in range(3)]
    await asyncio.sleep(0)  # the requests start (one runs, two wait for the limit)
    gone = weakref.ref(s)
    del s
    gc.collect()
    check(gone() is not None, "a session is kept while its requests run")
    rs = await asyncio.wait_for(asyncio.gather(*tasks), 30)
    check_eq([await r.text() for r in rs], [page_text(200 + n) for n in range(3)],
             "pages of a session dropped while they ran")
    del tasks, rs, r
    gc.collect()
    check(gone() is None, "the session goes once its requests are done")


async def run_all(base):
    async with corun.ClientSession(limit=16) as s:
        await basic_get(s, base)
        await statuses_and_errors(s, base)
        await bodies(s, base)
        await text_widths(s, base)
        await cancellation(s, base)
        await concurrency(s, base)
        await argument_types(s, base)
        await cookies(s, base)
        await streams_and_cookies(s, base)
        await keywords_and_proxies(s, base)
        await links_and_settings(s, base)
    check(s.closed, "async with closes the session")
    await request_info(base)
    await cookie_updates(base)
    async with corun.ClientSession() as s:
        await request_bodies_and_params(s, base)
    await closing()
    await unreferenced_sessions(base)
