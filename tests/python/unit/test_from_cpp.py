"""What corun.fetch takes from the C++ side instead of restating it: the
options (corun::fetch::kOptionFields: keywords, kinds, roles and numeric
ranges), their defaults (a default-constructed corun::fetch::Options) and the
record's fields (corun::fetch::kRecordFields). No call is ever started."""

import asyncio
import importlib

import pytest

import corun
from conftest import Handed  # and the `handed` fixture
from corun import _corun

fetch_module = importlib.import_module("corun.fetch")

URLS = ["http://127.0.0.1:9/a"]

QUEUE = "redis://127.0.0.1:9/crawl"
# (member, keyword, kind, role) of each option, as corun::fetch::kOptionFields lists them.
OPTIONS = _corun._fetch_options
# A value of the wrong type for each kind.
WRONG_TYPE = {"bool": 1, "int": "1", "number": "1", "seconds": "1", "size": 1.5, "str": 1,
              "path": 1, "list": 5}


def handed_options(handed, **kwargs):
    with pytest.raises(Handed):
        corun.fetch(URLS, **kwargs)
    return handed["_fetch"][2]


def test_the_option_list_is_the_options_and_its_kinds_are_known():
    members = [member for member, _keyword, _kind, _role in OPTIONS]
    assert sorted(members) == sorted(_corun._fetch_defaults)
    assert len({keyword for _member, keyword, _kind, _role in OPTIONS}) == len(OPTIONS)
    for member, _keyword, kind, role in OPTIONS:
        assert kind in WRONG_TYPE, member
        assert role in ("run", "crawl", "worker"), member
        assert (member in _corun._numeric_ranges) == (kind in ("int", "number", "seconds",
                                                               "size")), member


def test_keyword_defaults_are_the_cpp_defaults(handed):
    assert handed_options(handed) == _corun._fetch_defaults
    assert _corun._fetch_defaults["concurrency"] == 64  # one spot check of the source
    # Each keyword given its default (or None where "not given" is None) changes nothing.
    for member, keyword, kind, _role in OPTIONS:
        default = _corun._fetch_defaults[member]
        given = None if default in ("", [], None) else default
        assert handed_options(handed, **{keyword: given}) == _corun._fetch_defaults, keyword


@pytest.mark.parametrize("member,keyword,kind,role", OPTIONS)
def test_each_keyword_is_checked_by_its_kind(handed, member, keyword, kind, role):
    with pytest.raises(TypeError, match=f"fetch\\(\\) argument '{keyword}' must be"):
        corun.fetch(URLS, **{keyword: WRONG_TYPE[kind]})
    assert keyword in corun.fetch.__doc__
    if role == "crawl":
        assert keyword in corun.enqueue.__doc__
        with pytest.raises(TypeError, match=f"enqueue\\(\\) argument '{keyword}' must be"):
            corun.enqueue(URLS, queue=QUEUE, **{keyword: WRONG_TYPE[kind]})
    if role == "worker":
        with pytest.raises(TypeError, match=f"fetch\\(\\) argument '{keyword}' must be"):
            corun.fetch(queue=QUEUE, **{keyword: WRONG_TYPE[kind]})
    else:
        with pytest.raises(TypeError, match=f"does not take {keyword}"):
            corun.fetch(queue=QUEUE, **{keyword: WRONG_TYPE[kind]})


def test_each_role_gets_its_options(handed):
    def members(role):
        return {member for member, _keyword, _kind, r in OPTIONS if r == role}

    with pytest.raises(Handed):
        corun.fetch(queue=QUEUE)
    assert set(handed["_fetch_worker"][1]) == members("worker")
    with pytest.raises(Handed):
        asyncio.run(corun.enqueue(URLS, queue=QUEUE))
    assert set(handed["_enqueue"][3]) == members("crawl") | {"lease", "max_deliveries"}
    with pytest.raises(TypeError, match="enqueue\\(\\) got an unexpected keyword argument "
                                        "'concurrency'"):
        corun.enqueue(URLS, queue=QUEUE, concurrency=2)
    # An unknown keyword is named before any value is checked, as Python does.
    with pytest.raises(TypeError, match="fetch\\(\\) got an unexpected keyword argument 'bogus'"):
        corun.fetch(URLS, concurrency=0, bogus=1)


@pytest.mark.parametrize("name", sorted(_corun._numeric_ranges))
def test_numeric_keywords_follow_the_cpp_ranges(name):
    integer, low, high, zero, _unit = _corun._numeric_ranges[name]
    step = 1 if integer else low / 2 or 0.5
    corun.fetch(URLS, **{name: high}).close()
    with pytest.raises(ValueError, match=f"'{name}'"):
        corun.fetch(URLS, **{name: high + step})
    if name != "max_body_size":  # (0 there is the engine's to refuse, when the run starts)
        if low > 0 and not zero:
            with pytest.raises(ValueError, match=f"'{name}'"):
                corun.fetch(URLS, **{name: 0})
        elif low > 0:
            corun.fetch(URLS, **{name: 0}).close()
    corun.fetch(URLS, **{name: low}).close()
    if low > 0:
        below = low - step if integer else low / 2
        if below != 0:
            with pytest.raises(ValueError, match=f"'{name}'"):
                corun.fetch(URLS, **{name: below})


def test_record_attributes_are_the_cpp_fields():
    names = [name for name, _kind, _in_report in _corun._record_fields]
    report = [name for name, _kind, in_report in _corun._record_fields if in_report]
    assert list(corun.FetchRecord.__slots__) == names
    values = list(range(len(report)))
    record = corun.FetchRecord(*values)
    assert list(record.as_dict()) == report
    assert [getattr(record, n) for n in report] == values
    assert all(getattr(record, n) is None for n in names if n not in report)
    with pytest.raises(TypeError, match="missing"):
        corun.FetchRecord(*values[:-1])
    with pytest.raises(TypeError, match="unexpected"):
        corun.FetchRecord(*values, bogus=1)
