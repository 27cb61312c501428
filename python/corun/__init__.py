"""corun: asyncio-compatible HTTP fetching on a C++ event loop thread.

Every coroutine function has a blocking twin (*_sync) that works with or
without a running loop; corun.run() runs any coroutine from anywhere (a
script, a notebook cell, the asyncio REPL). docs/python.md is the guide.

Modules: errors (aiohttp's exceptions), http (ClientSession and friends),
fetch (corun.fetch), runtime (the loop thread, sleep), runner (run,
run_or_schedule, the IPython extension); _corun is the C++ extension.
"""

from ._corun import __version__
from .errors import (ClientConnectionError, ClientConnectorCertificateError,
                     ClientConnectorError, ClientError, ClientPayloadError, ClientResponseError,
                     ClientSSLError, ContentTypeError, InvalidURL, RequestInfo,
                     ServerDisconnectedError, TooManyRedirects)
from .fetch import FetchRecord, FetchResults, fetch, fetch_sync
from .http import DEFAULT_TIMEOUT, ClientResponse, ClientSession, ClientTimeout, CookieJar, Headers
from .runner import (load_ipython_extension, run, run_or_schedule,
                     unload_ipython_extension)
from .runtime import _loop_thread_running, sleep, sleep_sync

__all__ = [
    "ClientConnectionError", "ClientConnectorCertificateError", "ClientConnectorError",
    "ClientError", "ClientPayloadError", "ClientResponse", "ClientResponseError",
    "ClientSSLError", "ClientSession", "ClientTimeout", "ContentTypeError", "CookieJar", "Headers",
    "InvalidURL", "RequestInfo", "ServerDisconnectedError", "TooManyRedirects", "sleep",
    "sleep_sync", "FetchRecord", "FetchResults", "fetch", "fetch_sync", "run", "run_or_schedule",
]
