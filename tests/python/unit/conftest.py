"""Shared by the unit tests: the C++ entry points replaced by stand-ins that
record what they were handed and stop the call there, so nothing connects and
no call is started."""

import os
import sys

import pytest

from corun import _corun

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import support  # noqa: E402  (checks a sanitized run has its runtime loaded)


class Handed(Exception):
    """Raised by a stand-in once it has recorded its arguments."""


@pytest.fixture
def handed(monkeypatch):
    """{entry point: its arguments}, for _fetch, _fetch_worker and _enqueue."""
    seen = {}

    def stand_in(name):
        def call(*args):
            seen[name] = args
            raise Handed(name)
        return call

    for name in ("_fetch", "_fetch_worker", "_enqueue"):
        monkeypatch.setattr(_corun, name, stand_in(name))
    return seen
