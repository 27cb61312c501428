"""corun.URL (resp.url, resp.real_url, request_info.url): a str with yarl.URL's
read-only parts, and yarl's join(); str's join and % do not answer for yarl's."""

import pytest
import yarl

from corun.url import URL


def test_its_parts_read_as_yarls():
    u = URL("http://alice:pw@example.com:8080/a%20b/c.html?q=1&q=2#frag")
    assert (u.scheme, u.user, u.password, u.host, u.port) == (
        "http", "alice", "pw", "example.com", 8080)
    assert (u.raw_path, u.path, u.name) == ("/a%20b/c.html", "/a b/c.html", "c.html")
    assert u.query.getall("q") == ["1", "2"]
    assert u.fragment == "frag"
    assert URL("https://h/").port == 443 and URL("https://h/").explicit_port is None


@pytest.mark.parametrize("ref, expected", [
    ("page2.html", "http://h/dir/page2.html"),
    ("../up.html", "http://h/up.html"),
    ("/root?x=1", "http://h/root?x=1"),
    ("?only=query", "http://h/dir/?only=query"),
    ("#top", "http://h/dir/#top"),
    ("//other.example/p", "http://other.example/p"),
    ("https://elsewhere/q", "https://elsewhere/q"),
])
def test_join_resolves_a_reference_as_yarl_does(ref, expected):
    base = URL("http://h/dir/")
    got = base.join(ref)
    assert type(got) is URL and got == expected
    assert got == str(yarl.URL("http://h/dir/").join(yarl.URL(ref)))
    assert base.join(yarl.URL(ref)) == expected


@pytest.mark.parametrize("bad", [b"page.html", 3, ["a", "b"]])
def test_join_of_something_else_raises_not_garbage(bad):
    with pytest.raises(TypeError, match="yarl's, not str.join"):
        URL("http://h/dir/").join(bad)


def test_percent_raises_rather_than_returning_the_url_unchanged():
    with pytest.raises(TypeError, match="builds no URLs"):
        URL("http://h/p?a=1") % {"b": 2}
