"""Argument handling of the shared crawl's functions (corun.fetch(queue=...),
corun.enqueue, corun.collect) without a server: every check here happens
before anything connects (the queue URLs point at a port nothing listens on,
and no call is started unless said)."""

import asyncio
import inspect
import sys

import pytest

import corun
from conftest import Handed  # and the `handed` fixture
from corun import _corun
queue_module = sys.modules["corun.queue"]

QUEUE = "redis://127.0.0.1:9/crawl"
FORM = "redis://[user:password@]host:port[/db]/NAME"
CRAWL_SETTINGS = ["name", "encoding", "bom", "raw", "limit_per_host", "per_host", "rate",
                  "retries", "retry_delay", "retry_max_delay", "report", "resume", "base_url"]
SETTING_VALUES = {"name": "{hash}", "encoding": "utf-8", "bom": False, "raw": True,
                  "limit_per_host": 2, "per_host": 2, "rate": 1.0, "retries": 1,
                  "retry_delay": 1.0,
                  "retry_max_delay": 2.0, "report": "r.jsonl", "resume": True,
                  "base_url": "http://h/"}


@pytest.mark.parametrize("func", [corun.fetch, corun.fetch_sync])
def test_a_worker_takes_no_urls(func):
    with pytest.raises(TypeError, match="takes its URLs from the crawl"):
        func(["http://h/a"], queue=QUEUE)
    with pytest.raises(TypeError, match="takes its URLs from the crawl"):
        func(urls_file="urls.txt", queue=QUEUE)


@pytest.mark.parametrize("func", [corun.fetch, corun.fetch_sync])
@pytest.mark.parametrize("setting", CRAWL_SETTINGS)
def test_a_worker_takes_no_crawl_settings(func, setting):
    with pytest.raises(TypeError, match=f"does not take {setting}: the crawl's settings"):
        func(queue=QUEUE, **{setting: SETTING_VALUES[setting]})


def test_worker_options_are_checked_and_the_call_is_lazy():
    # The worker's own options go through fetch's checks...
    with pytest.raises(ValueError, match="'concurrency'"):
        corun.fetch(queue=QUEUE, concurrency=0)
    with pytest.raises(TypeError, match="'out_dir'"):
        corun.fetch(queue=QUEUE, out_dir=3)
    with pytest.raises(TypeError, match="'worker_name'"):
        corun.fetch(queue=QUEUE, worker_name=3)
    with pytest.raises(TypeError, match="unexpected keyword"):
        corun.fetch(queue=QUEUE, bogus=1)
    # ...and valid ones make a coroutine that has not connected yet.
    corun.fetch(queue=QUEUE, out_dir="pages", concurrency=8, threads=0, timeout=5,
                headers={"X-A": "b"}, worker_name="w1", records=False, progress=False).close()


@pytest.mark.parametrize("func", [corun.fetch, corun.fetch_sync])
def test_worker_arguments_go_with_queue(func):
    with pytest.raises(TypeError, match="'worker_name' goes with queue"):
        func(["http://h/a"], worker_name="w")
    with pytest.raises(TypeError, match="'records' goes with queue"):
        func(["http://h/a"], records=False)
    with pytest.raises(TypeError, match="'records'"):
        func(queue=QUEUE, records=1)


@pytest.mark.parametrize("bad", ["redis://127.0.0.1:6379", "http://127.0.0.1:6379/crawl",
                                 "redis://127.0.0.1:6379/", "redis:///crawl",
                                 "redis://127.0.0.1:6379/a b", "redis://h:6379/" + "n" * 101])
def test_a_malformed_queue_url_is_a_value_error_naming_the_form(bad):
    for call in (lambda: corun.fetch(queue=bad),
                 lambda: corun.fetch_sync(queue=bad),
                 lambda: corun.enqueue(["http://h/a"], queue=bad),
                 lambda: corun.enqueue_sync(["http://h/a"], queue=bad),
                 lambda: corun.collect(queue=bad, report="r.jsonl"),
                 lambda: corun.collect_sync(queue=bad, report="r.jsonl")):
        with pytest.raises(ValueError, match=FORM.replace("[", r"\[").replace("]", r"\]")):
            call()


def test_queue_must_be_a_str():
    for call in (lambda: corun.fetch(queue=b"redis://h:1/c"),
                 lambda: corun.enqueue(["http://h/a"], queue=7),
                 lambda: corun.collect(queue=None, report="r")):
        with pytest.raises(TypeError, match="'queue'"):
            call()
    with pytest.raises(TypeError):
        corun.enqueue(["http://h/a"])  # queue is required


@pytest.mark.parametrize("func", [corun.enqueue, corun.enqueue_sync])
def test_enqueue_urls(func):
    with pytest.raises(TypeError, match="not a single string"):
        func("http://h/a", queue=QUEUE)
    with pytest.raises(TypeError, match="'urls'"):
        func(7, queue=QUEUE)
    with pytest.raises(TypeError, match="urls or urls_file, not both"):
        func(["http://h/a"], "urls.txt", queue=QUEUE)
    with pytest.raises(TypeError, match="needs urls"):
        func(queue=QUEUE)
    with pytest.raises(TypeError, match="'input_name' goes with urls"):
        func(urls_file="urls.txt", queue=QUEUE, input_name="x")
    with pytest.raises(TypeError, match="'input_name'"):
        func(["http://h/a"], queue=QUEUE, input_name=3)


@pytest.mark.parametrize("name,bad", [
    ("limit_per_host", -1), ("per_host", -1), ("rate", -0.5), ("retries", -1),
    ("retry_delay", float("nan")),
    ("retry_max_delay", 1e10), ("lease", 0), ("lease", 86401), ("max_deliveries", 0),
    ("max_deliveries", 1001), ("high_water", 0)])
def test_enqueue_rejects_out_of_range_settings(name, bad):
    with pytest.raises(ValueError, match=f"'{name}'"):
        corun.enqueue(["http://h/a"], queue=QUEUE, **{name: bad})


@pytest.mark.parametrize("name,bad", [
    ("limit_per_host", "2"), ("per_host", "2"), ("rate", True), ("encoding", 8), ("name", 1),
    ("bom", 1), ("raw", "y"),
    ("base_url", 1), ("replace_settings", 1), ("high_water", 1.5), ("lease", "60"),
    ("max_deliveries", 2.0)])
def test_enqueue_rejects_wrong_types(name, bad):
    with pytest.raises(TypeError, match=f"'{name}'"):
        corun.enqueue(["http://h/a"], queue=QUEUE, **{name: bad})


def test_enqueue_checks_items_as_it_reads_them():
    # Items are read while the enqueue runs (streamed): a bad one stops it
    # with TypeError (whatever the producer's connection attempt came to).
    def items():
        yield "http://h/a"
        yield 7

    with pytest.raises(TypeError, match="must hold str, got int"):
        corun.enqueue_sync(items(), queue=QUEUE)

    async def aitems():
        yield b"http://h/a"

    with pytest.raises(TypeError, match="must hold str, got bytes"):
        asyncio.run(corun.enqueue(aitems(), queue=QUEUE))


def test_enqueue_name_template_must_be_unique_across_machines():
    # Checked by the C++ producer before it connects: ValueError, as the CLI's usage error.
    with pytest.raises(ValueError, match=r"\{hash\} or \{index\}"):
        corun.enqueue_sync(["http://h/a"], queue=QUEUE, name="{name}")


def test_enqueue_defaults_are_the_cpp_defaults(handed):
    with pytest.raises(Handed):
        asyncio.run(corun.enqueue(["http://h/a"], queue=QUEUE))
    settings = handed["_enqueue"][3]
    for name in ("limit_per_host", "rate", "retries", "retry_delay", "retry_max_delay", "encoding",
                 "bom", "raw"):
        assert settings[name] == _corun._fetch_defaults[name], name
    params = inspect.signature(queue_module._enqueue_call).parameters
    for name in ("high_water", "lease", "max_deliveries"):
        assert params[name].default == _corun._enqueue_defaults[name], name
    assert settings["name_template"] == ""  # the producer stores kQueueNameTemplate
    assert _corun._queue_name_template == "{hash}-{name}"


def test_queue_error_is_an_os_error_and_exported():
    assert issubclass(corun.QueueError, OSError)
    for name in ("QueueError", "EnqueueResult", "CollectResult", "enqueue", "enqueue_sync",
                 "collect", "collect_sync"):
        assert name in corun.__all__ and hasattr(corun, name), name
        if name != "QueueError":  # (corun.errors')
            assert getattr(corun, name) is getattr(queue_module, name), name
    assert corun.EnqueueResult(1, 2, 3, 4) == corun.EnqueueResult(lines=1, resumed=2, added=3,
                                                                 duplicates=4)
    assert "added=3" in repr(corun.EnqueueResult(1, 2, 3, 4))
    assert not corun.CollectResult(1, 1, 1).ok
