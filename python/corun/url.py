"""URL: what resp.url, resp.real_url and request_info.url are. A str (so code
that compares, joins or prints URLs as strings keeps working) with the parts
aiohttp's yarl.URL offers for reading: scheme, user, password, host, port
(the scheme's default when the URL has none), explicit_port, raw_path and path
(percent-decoded), raw_query_string, query_string, query (a read-only
multi-valued mapping: query["q"], query.get("q"), query.getall("q")),
fragment, name, and human_repr(); and join(), yarl's (a reference resolved
against this URL, as urllib.parse.urljoin does), since str.join would
otherwise answer it with a string of garbage. Nothing else builds URLs here
(with_query, `/`, `%` raise): a new URL is a new string."""

import urllib.parse as _parse

_DEFAULT_PORTS = {"http": 80, "https": 443}


class Query:
    """A URL's query as yarl.URL.query reads it: pairs in order, a name may
    repeat; q[name] and get() give the first value, getall() every one."""

    __slots__ = ("_pairs",)

    def __init__(self, pairs):
        self._pairs = tuple(pairs)

    def __getitem__(self, name):
        for key, value in self._pairs:
            if key == name:
                return value
        raise KeyError(name)

    def get(self, name, default=None):
        try:
            return self[name]
        except KeyError:
            return default

    getone = __getitem__

    def getall(self, name, default=None):
        values = [value for key, value in self._pairs if key == name]
        if values:
            return values
        if default is not None:
            return default
        raise KeyError(name)

    def __contains__(self, name):
        return any(key == name for key, _ in self._pairs)

    def __iter__(self):
        return (key for key, _ in self._pairs)

    def __len__(self):
        return len(self._pairs)

    def keys(self):
        return [key for key, _ in self._pairs]

    def values(self):
        return [value for _, value in self._pairs]

    def items(self):
        return list(self._pairs)

    def __eq__(self, other):
        if isinstance(other, Query):
            return self._pairs == other._pairs
        if isinstance(other, dict):
            return dict(self._pairs) == other and len(other) == len(self._pairs)
        return NotImplemented

    __hash__ = None

    def __repr__(self):
        return f"<Query({', '.join(f'{k}={v!r}' for k, v in self._pairs)})>"


class URL(str):
    """A URL string with yarl.URL's read-only parts (see the module)."""

    __slots__ = ()

    def _split(self):
        return _parse.urlsplit(self)

    @property
    def scheme(self):
        return self._split().scheme

    @property
    def user(self):
        user = self._split().username
        return None if user is None else _parse.unquote(user)

    @property
    def password(self):
        password = self._split().password
        return None if password is None else _parse.unquote(password)

    @property
    def host(self):
        return self._split().hostname

    @property
    def explicit_port(self):
        return self._split().port

    @property
    def port(self):
        parts = self._split()
        return parts.port if parts.port is not None else _DEFAULT_PORTS.get(parts.scheme)

    @property
    def raw_path(self):
        parts = self._split()
        return parts.path or ("/" if parts.netloc else "")

    @property
    def path(self):
        return _parse.unquote(self.raw_path)

    @property
    def name(self):
        return self.path.rpartition("/")[2]

    @property
    def raw_query_string(self):
        return self._split().query

    @property
    def query_string(self):
        return _parse.unquote(self._split().query)

    @property
    def query(self):
        return Query(_parse.parse_qsl(self._split().query, keep_blank_values=True))

    @property
    def fragment(self):
        return _parse.unquote(self._split().fragment)

    def is_absolute(self):
        return bool(self._split().netloc)

    def human_repr(self):
        return _parse.unquote(self)

    def join(self, url):
        """The reference url (a str or yarl.URL) resolved against this one
        (yarl.URL.join, RFC 3986): URL("http://h/a/b").join("c") is
        URL("http://h/a/c")."""
        if isinstance(url, (bytes, bytearray)) or not isinstance(url, str) and (
                type(url).__name__ != "URL"):
            raise TypeError(f"URL.join() takes a URL or a str, not {type(url).__name__} "
                            "(corun.URL.join is yarl's, not str.join)")
        return URL(_parse.urljoin(str(self), str(url)))

    def __mod__(self, other):
        raise TypeError("corun.URL builds no URLs (yarl's `url % query`): make the new "
                        "URL as a string (urllib.parse.urlencode for the query)")

    def __repr__(self):
        return f"URL({str.__repr__(self)})"
