"""corun: asyncio-compatible HTTP fetching on a C++ event loop thread.

Every coroutine function has a blocking twin (*_sync) that works with or
without a running loop; corun.run() runs any coroutine from anywhere (a
script, a notebook cell, the asyncio REPL). docs/python.md is the guide.

Modules: errors (aiohttp's exceptions), http (ClientSession and friends), url (URL),
fetch (corun.fetch), queue (the shared crawl's enqueue and collect), runtime (the loop thread, sleep), runner (run,
run_or_schedule, the IPython extension); _corun is the C++ extension.
"""

from ._corun import __version__  # noqa: F401
from .errors import (ClientConnectionError, ClientConnectorCertificateError,
                     ClientConnectorDNSError, ClientConnectorError, ClientError, ClientOSError,
                     ClientPayloadError, ClientResponseError, ClientSSLError, ContentTypeError,
                     InvalidURL, QueueError, RequestInfo, ServerConnectionError,
                     ServerDisconnectedError, ServerTimeoutError, TooManyRedirects)
from .fetch import FetchRecord, FetchResults, fetch, fetch_sync
from .queue import CollectResult, EnqueueResult, collect, collect_sync, enqueue, enqueue_sync
from .http import (DEFAULT_TIMEOUT, ClientResponse, ClientSession, ClientTimeout,  # noqa: F401
                   CookieJar, Headers, HttpVersion)
from .url import URL
# load_ipython_extension/unload_ipython_extension: %load_ext corun finds them here.
from .runner import (load_ipython_extension, run, run_or_schedule,  # noqa: F401
                     unload_ipython_extension)
from .runtime import _loop_thread_running, sleep, sleep_sync  # noqa: F401

__all__ = [
    "ClientConnectionError", "ClientConnectorCertificateError", "ClientConnectorDNSError",
    "ClientConnectorError", "ClientError", "ClientOSError", "ClientPayloadError",
    "ClientResponse", "ClientResponseError", "ClientSSLError", "ClientSession", "ClientTimeout",
    "ContentTypeError", "CookieJar", "Headers", "HttpVersion", "InvalidURL", "RequestInfo", "URL",
    "ServerConnectionError", "ServerDisconnectedError", "ServerTimeoutError", "TooManyRedirects", "sleep", "sleep_sync", "FetchRecord", "FetchResults", "fetch",
    "fetch_sync", "run", "run_or_schedule",
    "QueueError", "EnqueueResult", "CollectResult", "enqueue", "enqueue_sync", "collect",
    "collect_sync",
]
