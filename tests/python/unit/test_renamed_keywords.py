"""corun.fetch's keywords named as corun.ClientSession's (limit_per_host,
verify_tls, max_body_size), and their old names (per_host, insecure,
max_size), which stay accepted aliases. The C++ entry points are replaced by
a stand-in that records what it was handed and stops the call there, so
nothing connects and no call is started."""

import asyncio
import inspect

import pytest

import corun
from conftest import Handed  # and the `handed` fixture
from corun import _corun

URLS = ["http://127.0.0.1:9/a"]
QUEUE = "redis://127.0.0.1:9/crawl"
# The new names, their old ones, and a value of each (the old name's, then
# what the engine is to see).
RENAMED = [
    ("limit_per_host", "per_host", 3, 3),
    ("max_body_size", "max_size", 1000, 1000),
    ("verify_tls", "insecure", True, False),
]


def fetch_options(handed, func, **kwargs):
    """The fetch::Options members corun.fetch (or fetch_sync) hands to C++."""
    with pytest.raises(Handed):
        result = func(URLS, **kwargs)
        if inspect.iscoroutine(result):
            result.close()
    return handed["_fetch"][2]


def worker_options(handed, func, **kwargs):
    with pytest.raises(Handed):
        result = func(queue=QUEUE, **kwargs)
        if inspect.iscoroutine(result):
            result.close()
    return handed["_fetch_worker"][1]


def enqueue_settings(handed, func, **kwargs):
    with pytest.raises(Handed):
        result = func(["http://h/a"], queue=QUEUE, **kwargs)
        if inspect.iscoroutine(result):
            asyncio.run(result)
    return handed["_enqueue"][3]


def test_the_names_are_client_sessions():
    session = inspect.signature(corun.ClientSession).parameters
    for new, _old, _value, _engine in RENAMED:
        assert new in session, new
        assert new in _corun._fetch_defaults, new
    assert _corun._fetch_defaults["verify_tls"] is True  # verification is on unless turned off
    for old in ("per_host", "max_size", "insecure"):
        assert old not in _corun._fetch_defaults, old
        assert old not in _corun._numeric_ranges, old


@pytest.mark.parametrize("func", [corun.fetch, corun.fetch_sync])
def test_new_names_reach_the_engine(handed, func):
    o = fetch_options(handed, func, limit_per_host=3, max_body_size=1000, verify_tls=False)
    assert (o["limit_per_host"], o["max_body_size"], o["verify_tls"]) == (3, 1000, False)
    o = fetch_options(handed, func)
    assert (o["limit_per_host"], o["max_body_size"], o["verify_tls"]) == (0, None, True)
    for name in ("per_host", "max_size", "insecure"):
        assert name not in o


@pytest.mark.parametrize("func", [corun.fetch, corun.fetch_sync])
@pytest.mark.parametrize("new,old,value,engine", RENAMED)
def test_each_old_name_is_an_alias(handed, func, new, old, value, engine):
    o = fetch_options(handed, func, **{old: value})
    assert o[new] == engine
    assert old not in o


@pytest.mark.parametrize("func", [corun.fetch, corun.fetch_sync])
def test_insecure_is_the_opposite_of_verify_tls(handed, func):
    assert fetch_options(handed, func, insecure=True)["verify_tls"] is False
    assert fetch_options(handed, func, insecure=False)["verify_tls"] is True


@pytest.mark.parametrize("func", [corun.fetch, corun.fetch_sync])
@pytest.mark.parametrize("new,old,value,_engine", RENAMED)
def test_an_old_name_with_its_new_one_is_a_type_error(func, new, old, value, _engine):
    with pytest.raises(TypeError, match=f"both '{new}' and '{old}'.*keep '{new}'"):
        func(URLS, **{new: value, old: value})


@pytest.mark.parametrize("func", [corun.fetch, corun.fetch_sync])
def test_messages_name_the_keyword_used(func):
    for used, bad in [("per_host", -1), ("limit_per_host", -1), ("max_size", -1),
                      ("max_body_size", -1)]:
        with pytest.raises(ValueError) as info:
            func(URLS, **{used: bad})
        assert f"argument '{used}'" in str(info.value)
    for used, bad in [("per_host", "2"), ("max_size", 1.5), ("insecure", 1), ("verify_tls", 1),
                      ("insecure", "yes")]:
        with pytest.raises(TypeError) as info:
            func(URLS, **{used: bad})
        assert f"argument '{used}'" in str(info.value)


@pytest.mark.parametrize("func", [corun.fetch, corun.fetch_sync])
def test_a_worker_takes_the_new_names_and_the_aliases(handed, func):
    o = worker_options(handed, func, max_body_size=10, verify_tls=False)
    assert (o["max_body_size"], o["verify_tls"]) == (10, False)
    o = worker_options(handed, func, max_size=20, insecure=True)
    assert (o["max_body_size"], o["verify_tls"]) == (20, False)
    assert worker_options(handed, func)["verify_tls"] is True
    with pytest.raises(TypeError, match="both 'verify_tls' and 'insecure'"):
        func(queue=QUEUE, insecure=True, verify_tls=False)
    with pytest.raises(ValueError, match="argument 'max_size'"):
        func(queue=QUEUE, max_size=-1)
    # limit_per_host is the crawl's (its producer's): named as the caller named it.
    for name in ("limit_per_host", "per_host"):
        with pytest.raises(TypeError, match=f"does not take {name}: the crawl's settings"):
            func(queue=QUEUE, **{name: 2})


@pytest.mark.parametrize("func", [corun.enqueue, corun.enqueue_sync])
def test_enqueue_takes_limit_per_host_and_its_alias(handed, func):
    assert enqueue_settings(handed, func, limit_per_host=4)["limit_per_host"] == 4
    settings = enqueue_settings(handed, func, per_host=5)
    assert settings["limit_per_host"] == 5 and "per_host" not in settings
    assert enqueue_settings(handed, func)["limit_per_host"] == 0
    with pytest.raises(TypeError, match="both 'limit_per_host' and 'per_host'.*keep"):
        func(["http://h/a"], queue=QUEUE, per_host=1, limit_per_host=1)
    for used in ("per_host", "limit_per_host"):
        with pytest.raises(ValueError, match=f"argument '{used}'"):
            func(["http://h/a"], queue=QUEUE, **{used: -1})
    # The producer has no body size or TLS: those names are no aliases here.
    for name in ("max_size", "insecure", "max_body_size", "verify_tls"):
        with pytest.raises(TypeError, match=f"unexpected keyword argument '{name}'"):
            func(["http://h/a"], queue=QUEUE, **{name: 1})
