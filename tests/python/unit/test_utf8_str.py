"""The str text() builds from its decoders' UTF-8 (python/src/utf8_str.cpp),
checked against CPython's own decoder on the same bytes: the same characters, the
canonical width (a str of the wrong width compares unequal and hashes apart), the
UTF-8 kept as the str's cache, and UnicodeDecodeError for bytes that are not
UTF-8, wherever in the text they sit (inside a run the vector loops take, or in
the scalar tail)."""

import random
import sys

import pytest

from corun import _corun

# Alphabets of each width and of each UTF-8 length.
ASCII = "abcXYZ019 <>/=\"\n\t"
LATIN1 = "\u0080\u00a0\u00e9\u00ff"
TWO_BYTE = "\u0100\u03b1\u0416\u07ff"
THREE_BYTE = "\u0800\u4e2d\u6587\ud7ff\ue000\uff01\uffff"
ASTRAL = "\U00010000\U0001f600\U0010ffff"


def check_same(data):
    expected = data.decode("utf-8")
    got = _corun._str_from_utf8(data)
    assert got == expected
    assert hash(got) == hash(expected)
    assert max(map(ord, got), default=0) == max(map(ord, expected), default=0)
    # The canonical width, plus the UTF-8 kept for a non-ASCII str.
    cache = len(data) + 1 if not expected.isascii() else 0
    fresh = (expected + "x")[:-1]  # built here: no UTF-8 cache
    assert sys.getsizeof(got) == sys.getsizeof(fresh) + cache
    assert got.encode() == data
    assert got.encode("utf-16-le") == expected.encode("utf-16-le")


@pytest.mark.parametrize("alphabet", [
    ASCII, LATIN1, ASCII + LATIN1, TWO_BYTE, ASCII + TWO_BYTE, THREE_BYTE,
    ASCII + THREE_BYTE, LATIN1 + THREE_BYTE, TWO_BYTE + THREE_BYTE,
    ASCII + LATIN1 + TWO_BYTE + THREE_BYTE, THREE_BYTE + ASTRAL, ASCII + ASTRAL,
])
def test_random_text_of_every_width(alphabet):
    rng = random.Random(alphabet)
    for length in list(range(0, 70)) + [255, 256, 257, 4096]:
        for _ in range(3):
            check_same("".join(rng.choice(alphabet) for _ in range(length)).encode())


def test_long_runs_with_ascii_at_every_offset():
    # A CJK run (the three-byte vector loop), broken by ASCII, a two-byte
    # character or the end at every offset.
    for cut in range(0, 40):
        for other in ("a", "\u00e9", "\u0416", "<p>"):
            text = "\u4e2d" * cut + other + "\u6587" * (40 - cut)
            check_same(text.encode())
            check_same(("abcdefghijklmnop" + text).encode())


def test_the_edges_of_the_three_byte_range():
    # The smallest and largest three-byte characters and those around the
    # surrogates, in runs long enough for the vector loop.
    for c in ("\u0800", "\u0fff", "\u1000", "\ud7ff", "\ue000", "\uffff"):
        check_same((c * 20).encode())
        check_same(("\u4e2d" * 7 + c + "\u4e2d" * 12).encode())


INVALID = [
    b"\x80",                  # a continuation byte with no lead
    b"\xbf",
    b"\xc0\xaf",              # overlong two-byte forms
    b"\xc1\xbf",
    b"\xc3",                  # cut after the lead
    b"\xc3\x28",              # lead, then no continuation
    b"\xe0\x80\xaf",          # overlong three-byte form
    b"\xe0\x9f\xbf",
    b"\xed\xa0\x80",          # surrogates
    b"\xed\xbf\xbf",
    b"\xe4\xb8",              # cut
    b"\xe4\x28\xad",
    b"\xe4\xb8\x28",
    b"\xf0\x9f\x98",          # a four-byte sequence, cut
    b"\xf5\x80\x80\x80",      # beyond U+10FFFF
    b"\xf8\x88\x80\x80\x80",
    b"\xff",
]


@pytest.mark.parametrize("bad", INVALID)
def test_invalid_utf8_raises_as_cpython_does(bad):
    for prefix, suffix in [("", ""), ("\u4e2d" * 8, ""), ("\u4e2d" * 8, "\u6587" * 8),
                           ("\u00e9" * 9, "abc"), ("a" * 16, "\u4e2d" * 16),
                           ("\u4e2d" * 4, "\u4e2d" * 4)]:
        data = prefix.encode() + bad + suffix.encode()
        with pytest.raises(UnicodeDecodeError) as expected:
            data.decode("utf-8")
        with pytest.raises(UnicodeDecodeError) as got:
            _corun._str_from_utf8(data)
        assert (got.value.start, got.value.end, got.value.reason) == (
            expected.value.start, expected.value.end, expected.value.reason)
