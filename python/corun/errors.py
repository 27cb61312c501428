"""The HTTP client's exceptions: aiohttp's names and hierarchy.

The C++ side raises them by name (python/src/runtime.cpp maps each
corun::http error to the class of the same name here, and the shared crawl's
corun::fetch::QueueError and corun::redis errors to QueueError).
"""

import collections as _collections

from .url import URL

__all__ = [
    "ClientConnectionError", "ClientConnectorCertificateError", "ClientConnectorDNSError",
    "ClientConnectorError", "ClientError", "ClientOSError", "ClientPayloadError",
    "ClientResponseError", "ClientSSLError", "ContentTypeError", "InvalidURL", "QueueError",
    "RequestInfo", "ServerConnectionError", "ServerDisconnectedError", "ServerTimeoutError",
    "TooManyRedirects",
]


class ClientError(Exception):
    """Base of every HTTP client error (aiohttp.ClientError). .url: the request's URL."""

    def __init__(self, message="", *, url=None):
        super().__init__(message)
        self.url = URL(url) if isinstance(url, str) else url


class ClientConnectionError(ClientError):
    """The connection failed or broke (aiohttp.ClientConnectionError)."""


class ClientOSError(ClientConnectionError, OSError):
    """A connection error that is also an OSError (aiohttp.ClientOSError)."""


class ClientConnectorError(ClientOSError):
    """Could not connect: refused, DNS failure, TLS failure (aiohttp.ClientConnectorError).
    An OSError, as aiohttp's; .host and .port: the request's (errno and strerror are
    None: libcurl's reason is in the message)."""

    @property
    def host(self):
        from urllib.parse import urlsplit

        return urlsplit(self.url).hostname if isinstance(self.url, str) else None

    @property
    def port(self):
        from urllib.parse import urlsplit

        if not isinstance(self.url, str):
            return None
        parts = urlsplit(self.url)
        try:
            return parts.port or {"http": 80, "https": 443}.get(parts.scheme)
        except ValueError:
            return None

    @property
    def ssl(self):
        return isinstance(self.url, str) and self.url[:6].lower() == "https:"

    os_error = None


class ClientConnectorDNSError(ClientConnectorError):
    """The host's (or proxy's) name did not resolve (aiohttp 3.10's ClientConnectorDNSError).
    corun.fetch() does not retry it, as curl --retry does not."""


class ClientSSLError(ClientConnectorError):
    """TLS failed (aiohttp.ClientSSLError)."""


class ClientConnectorCertificateError(ClientSSLError):
    """The server's certificate did not verify (aiohttp.ClientConnectorCertificateError)."""


class ServerConnectionError(ClientConnectionError):
    """The server broke the exchange (aiohttp.ServerConnectionError)."""


class ServerDisconnectedError(ServerConnectionError):
    """The server closed the connection before a response (aiohttp.ServerDisconnectedError).
    .message: the error's text, as aiohttp's."""

    @property
    def message(self):
        return str(self)


class ServerTimeoutError(ServerConnectionError, TimeoutError):
    """No connection within the connect timeout, or nothing received for sock_read
    (aiohttp.ServerTimeoutError): a ClientError and a TimeoutError (asyncio's). The
    total timeout is a plain TimeoutError, as aiohttp's."""


class ClientPayloadError(ClientError):
    """The body was truncated or malformed (aiohttp.ClientPayloadError)."""


class InvalidURL(ClientError, ValueError):
    """A malformed URL or an unsupported scheme (aiohttp.InvalidURL)."""


# A named tuple as aiohttp's (collections.namedtuple, not typing.NamedTuple:
# importing typing costs every `import corun` more than this module does).
RequestInfo = _collections.namedtuple("RequestInfo", ["url", "method", "headers", "real_url"])
RequestInfo.__doc__ = "What was asked for (aiohttp.RequestInfo): url, method, headers, real_url."


class ClientResponseError(ClientError):
    """A response with an error status (aiohttp.ClientResponseError): .status,
    .message (the reason phrase), .url, .request_info, .headers (the
    response's), .history. TooManyRedirects (raised by the C++ session) has no
    .headers; its .history is the redirects followed and the one refused, and
    its request_info the first request's."""

    def __init__(self, message="", *, url=None, status=None, reason="", method="GET",
                 headers=None, history=(), request_info=None):
        if isinstance(url, str):
            url = URL(url)
        if not message:
            message = f"{status}, message={reason!r}, url={url!r}"  # url=URL('...'), as aiohttp's
        super().__init__(message, url=url)
        self.status = status
        self.message = reason
        self.headers = headers
        self.history = tuple(history)
        if request_info is None:
            bare = URL(url.partition("#")[0]) if isinstance(url, str) else url
            request_info = RequestInfo(bare, method, None, self.url)
        self.request_info = request_info

    @property
    def code(self):
        return self.status


class TooManyRedirects(ClientResponseError):
    """More redirects than max_redirects (aiohttp.TooManyRedirects)."""


class ContentTypeError(ClientResponseError):
    """json() on a response whose media type is not JSON (aiohttp.ContentTypeError).
    .message says so, as aiohttp's (not the reason phrase)."""

    def __init__(self, message="", **kwargs):
        super().__init__(message, **kwargs)
        if message:
            self.message = message


class QueueError(OSError):
    """The shared crawl's Redis server cannot be used (corun.fetch(queue=...),
    corun.enqueue, corun.collect; docs/scale-out.md): unreachable, a refused
    password, a key of the wrong type under the crawl's NAME, or no crawl of
    that name (a worker or collector started before any producer). A malformed
    queue URL is a ValueError instead."""
