"""What corun.fetch takes from the C++ side instead of restating it: the
options' defaults (a default-constructed corun::fetch::Options), their numeric
ranges (corun::fetch::kNumericRanges) and the record's fields
(corun::fetch::kRecordFields). No call is ever started."""

import importlib
import inspect

import pytest

import corun
from corun import _corun

fetch_module = importlib.import_module("corun.fetch")

URLS = ["http://127.0.0.1:9/a"]

# Python keywords named differently from the Options members they set.
KEYWORD_OF = {"name_template": "name", "ca_file": "cacert"}
# Python's "not given" for the members whose C++ default is empty.
NONE_FOR_EMPTY = {"name_template", "report", "base_url", "proxy", "ca_file", "headers"}


def test_keyword_defaults_are_the_cpp_defaults():
    params = inspect.signature(fetch_module._checked_options).parameters
    for member, default in _corun._fetch_defaults.items():
        keyword = KEYWORD_OF.get(member, member)
        assert keyword in params, keyword
        if member in NONE_FOR_EMPTY:
            assert not default and params[keyword].default is None, member
        else:
            assert params[keyword].default == default, member
    assert _corun._fetch_defaults["concurrency"] == 64  # one spot check of the source


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
