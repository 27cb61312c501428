"""The HTTP client's exceptions: aiohttp's names and hierarchy.

The C++ side raises them by name (python/src/runtime.cpp maps each
corun::http error to the class of the same name here, and the shared crawl's
corun::fetch::QueueError and corun::redis errors to QueueError).
"""

import collections as _collections

__all__ = [
    "ClientConnectionError", "ClientConnectorCertificateError", "ClientConnectorDNSError",
    "ClientConnectorError", "ClientError", "ClientPayloadError", "ClientResponseError",
    "ClientSSLError", "ContentTypeError", "InvalidURL", "QueueError", "RequestInfo",
    "ServerDisconnectedError", "TooManyRedirects",
]


class ClientError(Exception):
    """Base of every HTTP client error (aiohttp.ClientError). .url: the request's URL."""

    def __init__(self, message="", *, url=None):
        super().__init__(message)
        self.url = url


class ClientConnectionError(ClientError):
    """The connection failed or broke (aiohttp.ClientConnectionError)."""


class ClientConnectorError(ClientConnectionError):
    """Could not connect: refused, DNS failure, TLS failure (aiohttp.ClientConnectorError)."""


class ClientConnectorDNSError(ClientConnectorError):
    """The host's (or proxy's) name did not resolve (aiohttp 3.10's ClientConnectorDNSError).
    corun.fetch() does not retry it, as curl --retry does not."""


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


# A named tuple as aiohttp's (collections.namedtuple, not typing.NamedTuple:
# importing typing costs every `import corun` more than this module does).
RequestInfo = _collections.namedtuple("RequestInfo", ["url", "method", "headers", "real_url"])
RequestInfo.__doc__ = "What was asked for (aiohttp.RequestInfo): url, method, headers, real_url."


class ClientResponseError(ClientError):
    """A response with an error status (aiohttp.ClientResponseError): .status,
    .message (the reason phrase), .url, .request_info, .headers (the
    response's), .history. From TooManyRedirects (raised by the C++ session),
    request_info's headers and .headers are None."""

    def __init__(self, message="", *, url=None, status=None, reason="", method="GET",
                 headers=None, history=(), request_info=None):
        if not message:
            message = f"{status}, message={reason!r}, url={url!r}"
        super().__init__(message, url=url)
        self.status = status
        self.message = reason
        self.headers = headers
        self.history = tuple(history)
        if request_info is None:
            bare = url.partition("#")[0] if isinstance(url, str) else url
            request_info = RequestInfo(bare, method, None, url)
        self.request_info = request_info

    @property
    def code(self):
        return self.status


class TooManyRedirects(ClientResponseError):
    """More redirects than max_redirects (aiohttp.TooManyRedirects)."""


class ContentTypeError(ClientResponseError):
    """json() on a response whose media type is not JSON (aiohttp.ContentTypeError)."""


class QueueError(OSError):
    """The shared crawl's Redis server cannot be used (corun.fetch(queue=...),
    corun.enqueue, corun.collect; docs/scale-out.md): unreachable, a refused
    password, a key of the wrong type under the crawl's NAME, or no crawl of
    that name (a worker or collector started before any producer). A malformed
    queue URL is a ValueError instead."""
