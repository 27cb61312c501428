"""Argument handling of corun's public functions, without a server: every
check happens before any work starts, so nothing here touches the network
(the URLs point nowhere and no call is ever started)."""

import os

import pytest

import corun

URLS = ["http://127.0.0.1:9/a"]

# Every numeric keyword argument of corun.fetch: (name, values rejected with
# ValueError, a value accepted).
FETCH_NUMBERS = [
    ("concurrency", [0, -1, 2**31, 10**30], 8),
    ("limit_per_host", [-1, 2**31, 10**30], 0),
    ("per_host", [-1, 2**31, 10**30], 0),  # (limit_per_host's old name, an alias)
    ("threads", [-1, 1025, 2**64], 0),
    ("retries", [-1, 2**31, 10**30], 0),
    ("max_body_size", [-1, 2**63, 10**30], 0),
    ("max_size", [-1, 2**63, 10**30], 0),  # (max_body_size's old name, an alias)
    ("rate", [-1, -0.5, float("nan"), float("inf"), 1e10], 0.5),
    ("retry_delay", [-1, float("nan"), float("inf"), 1e10], 0),
    ("retry_max_delay", [-0.1, float("-inf"), 1e10], 1),
    ("timeout", [-1, float("nan"), 1e10, 10**30], None),
    ("connect_timeout", [-1, float("inf"), 1e10], 0),
    ("read_timeout", [-1, float("nan"), 1e10], 2.5),
]

SESSION_NUMBERS = [
    ("limit", [-1, 2**31, 10**30], 0),
    ("limit_per_host", [-1, 2**31], 0),
    ("max_redirects", [-1, 2**31], 0),
    ("max_body_size", [-1, 2**63], 0),
]

NOT_NUMBERS = ["8", b"8", True, False, [8], object()]


def fetch_call(**kwargs):
    # Builds the call (every check runs) without starting it.
    return corun.fetch(URLS, **kwargs)


@pytest.mark.parametrize("name,bad,good", FETCH_NUMBERS)
def test_fetch_rejects_out_of_range_numbers_naming_the_argument(name, bad, good):
    for value in bad:
        with pytest.raises(ValueError, match=f"'{name}'"):
            fetch_call(**{name: value})
    fetch_call(**{name: good}).close()


@pytest.mark.parametrize("name", [n for n, _, _ in FETCH_NUMBERS])
def test_fetch_rejects_non_numbers_naming_the_argument(name):
    for value in NOT_NUMBERS:
        with pytest.raises(TypeError, match=f"'{name}'"):
            fetch_call(**{name: value})
        with pytest.raises(TypeError, match=f"'{name}'"):
            corun.fetch_sync(URLS, **{name: value})


@pytest.mark.parametrize("name,bad,good", SESSION_NUMBERS)
def test_session_rejects_out_of_range_numbers_naming_the_argument(name, bad, good):
    for value in bad:
        with pytest.raises(ValueError, match=f"'{name}'"):
            corun.ClientSession(**{name: value})
    for value in NOT_NUMBERS:
        with pytest.raises(TypeError, match=f"'{name}'"):
            corun.ClientSession(**{name: value})
    corun.ClientSession(**{name: good}).close_sync()


def test_session_request_numbers():
    s = corun.ClientSession()
    try:
        for name, bad in [("max_redirects", [-1, 2**31]), ("max_body_size", [-1, 2**63])]:
            for value in bad:
                with pytest.raises(ValueError, match=f"'{name}'"):
                    s.get(URLS[0], **{name: value})
            with pytest.raises(TypeError, match=f"'{name}'"):
                s.get(URLS[0], **{name: "1"})
        for value in [-1, float("nan"), 1e10]:
            with pytest.raises(ValueError, match="'timeout'"):
                s.get(URLS[0], timeout=value)
        with pytest.raises(TypeError, match="'timeout'"):
            s.get(URLS[0], timeout=True)
    finally:
        s.close_sync()


@pytest.mark.parametrize("name", ["total", "connect", "sock_read", "sock_connect"])
def test_client_timeout(name):
    for value in [-1, float("nan"), float("inf"), 1e10]:
        with pytest.raises(ValueError, match=f"'{name}'"):
            corun.ClientTimeout(**{name: value})
    for value in ["1", True]:
        with pytest.raises(TypeError, match=f"'{name}'"):
            corun.ClientTimeout(**{name: value})
    assert getattr(corun.ClientTimeout(**{name: 2}), "connect" if name == "sock_connect"
                   else name) == 2.0


def test_another_librarys_client_timeout_is_named():
    import aiohttp  # installed with the test dependencies (scripts/install-deps.sh)
    s = corun.ClientSession()
    try:
        with pytest.raises(TypeError, match=r"not aiohttp\.client\.ClientTimeout \(corun\."
                                            r"ClientTimeout takes the same"):
            s.get(URLS[0], timeout=aiohttp.ClientTimeout(total=5))
    finally:
        s.close_sync()


def test_sleep_delay():
    for value in [-1, float("nan"), 1e10]:
        with pytest.raises(ValueError, match="'delay'"):
            corun.sleep(value)
        with pytest.raises(ValueError, match="'delay'"):
            corun.sleep_sync(value)
    with pytest.raises(TypeError, match="'delay'"):
        corun.sleep_sync("1")
    assert corun.sleep_sync(0, "r") == "r"


def test_fetch_other_arguments():
    with pytest.raises(TypeError, match="'urls'"):
        corun.fetch("http://127.0.0.1:9/a")
    with pytest.raises(TypeError, match="'urls'"):
        corun.fetch([1])
    with pytest.raises(TypeError, match="needs urls"):
        corun.fetch()
    with pytest.raises(TypeError, match="not both"):
        corun.fetch(URLS, urls_file="x")
    with pytest.raises(TypeError, match="'out_dir'"):
        corun.fetch(URLS, out_dir=3)
    with pytest.raises(TypeError, match="'headers'"):
        corun.fetch(URLS, headers=5)
    with pytest.raises(TypeError, match="'progress'"):
        corun.fetch(URLS, progress=1)
    with pytest.raises(TypeError, match="'cacert'"):
        corun.fetch(URLS, cacert=1)
    with pytest.raises(TypeError, match="unexpected keyword"):
        corun.fetch(URLS, no_such_option=1)
    fetch_call(out_dir=os.curdir, headers={"X": "y"}, progress=False, cacert="ca.pem").close()


def test_the_messages_say_the_range():
    with pytest.raises(ValueError) as info:
        fetch_call(concurrency=0)
    assert "fetch() argument 'concurrency' must be between 1 and" in str(info.value)
    with pytest.raises(ValueError) as info:
        corun.ClientSession(limit=-1)
    assert "0 = no limit" in str(info.value)
    with pytest.raises(ValueError) as info:
        fetch_call(timeout=float("nan"))
    assert "finite" in str(info.value)


def test_session_refuses_a_ca_file_that_cannot_serve(tmp_path):
    # As Python's ssl.create_default_context(cafile=): an unreadable file is the
    # OSError open() raises, a file with no certificate a ValueError; both when the
    # session is made, not as every request's TLS error. Unread with verify_tls=False.
    with pytest.raises(FileNotFoundError, match="missing.pem"):
        corun.ClientSession(ca_file=str(tmp_path / "missing.pem"))
    with pytest.raises(IsADirectoryError):
        corun.ClientSession(ca_file=str(tmp_path))
    text = tmp_path / "text.pem"
    text.write_text("not a certificate\n")
    with pytest.raises(ValueError, match="text.pem holds no PEM certificate"):
        corun.ClientSession(ca_file=str(text))
    corun.ClientSession(ca_file=str(text), verify_tls=False).close_sync()


def test_session_headers_are_its_default_headers():
    # aiohttp's session.headers: the defaults given, case-insensitive.
    s = corun.ClientSession(headers={"X-Api-Key": "k"})
    try:
        assert s.headers["x-api-key"] == "k"
        assert list(s.headers.items()) == [("X-Api-Key", "k")]
    finally:
        s.close_sync()
