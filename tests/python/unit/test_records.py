"""FetchRecord and FetchResults without a run: input order from the records'
index, the summary, the HTML displays, and the progress display's text."""

import importlib

import corun

# The module (corun.fetch, the attribute, is the function of the same name).
fetch_module = importlib.import_module("corun.fetch")

SUMMARY = {"seen": 3, "done": 2, "failed": 1, "skipped": 0, "not_started": 0, "bytes": 2048,
           "elapsed": 0.5, "interrupted": False, "report_error": None, "stop_reason": None}


def row(url, index, status=200, error=None, encoding="GBK"):
    return (url, url, status, 1024 if error is None else 0, encoding if error is None else None,
            "meta" if error is None else None, None if error else f"/out/{index}", error, 1, 0.1,
            index)


def test_records_are_put_back_in_input_order_by_index():
    # Completion order 2, 0, 1; the URL texts do not match the input lines
    # (as with base_url): the index alone decides.
    rows = [row("http://h/c", 2), row("http://h/a", 0), row("http://h/b", 1)]
    results = fetch_module._fetch_results((rows, SUMMARY), True)
    assert [r.url for r in results] == ["http://h/a", "http://h/b", "http://h/c"]
    assert [r.index for r in results] == [0, 1, 2]
    # urls_file: completion order kept, as documented.
    results = fetch_module._fetch_results((rows, SUMMARY), False)
    assert [r.index for r in results] == [2, 0, 1]


def test_repeated_urls_keep_their_own_positions():
    rows = [row("http://h/same", 1, status=404, error="HTTP 404"), row("http://h/same", 0)]
    results = fetch_module._fetch_results((rows, SUMMARY), True)
    assert [r.status for r in results] == [200, 404]


def test_as_dict_has_the_report_fields_only():
    record = corun.FetchRecord(*row("http://h/a", 7))
    assert list(record.as_dict()) == ["url", "final_url", "status", "bytes", "encoding",
                                      "encoding_source", "path", "error", "attempts", "elapsed"]
    assert record.index == 7 and record.ok


def test_results_html():
    rows = [row("http://h/a", 0), row("http://h/b", 1, encoding="UTF-8"),
            row("http://h/<x>", 2, status=None, error="connect: refused <&>")]
    results = fetch_module._fetch_results((rows, SUMMARY), True)
    assert results.counts_by_status() == {200: 2, None: 1}
    assert results.counts_by_encoding() == {"GBK": 1, "UTF-8": 1, None: 1}
    assert [r.url for r in results.errors()] == ["http://h/<x>"]
    html = results._repr_html_()
    assert "2 done, 1 failed" in html and "some failed" in html
    assert "<td style='text-align:left'>GBK</td><td>1</td>" in html
    assert "connect: refused &lt;&amp;&gt;" in html and "http://h/&lt;x&gt;" in html
    assert "<table" in results[0]._repr_html_() and "GBK" in results[0]._repr_html_()


def test_a_run_that_stopped_on_its_own_says_why():
    summary = dict(SUMMARY, interrupted=True, not_started=5,
                   stop_reason="the disk is full: no more room for the report (out/report.jsonl)")
    results = fetch_module._fetch_results(([row("http://h/a", 0)], summary), True)
    assert results.stop_reason.startswith("the disk is full") and not results.ok
    html = results._repr_html_()
    assert "stopped" in html and "the disk is full" in html
    plain = fetch_module._fetch_results(([row("http://h/a", 0)], SUMMARY), True)
    assert plain.stop_reason is None and "stopped" not in plain._repr_html_()


def test_results_html_lists_only_the_first_errors():
    rows = [row(f"http://h/{i}", i, status=500, error=f"HTTP 500 #{i}") for i in range(8)]
    results = fetch_module._fetch_results((rows, dict(SUMMARY, done=0, failed=8)), True)
    html = results._repr_html_()
    assert "HTTP 500 #4" in html and "HTTP 500 #5" not in html and "3 more" in html


def test_progress_view_text():
    view = fetch_module._ProgressView((10, 6, 1, 3, 4096, -1), 20, 0.0)
    text = repr(view)
    assert text.startswith("corun.fetch: 7/20, 6 done, 1 failed, 3 in flight")
    assert "pages/s" in text and "ETA" in text
    assert "<progress value='7' max='20'" in view._repr_html_()
    final = fetch_module._ProgressView((20, 20, 0, 0, 4096, -1), 20, 0.0, final=True)
    assert "ETA" not in repr(final) and "finished in" in repr(final)
    # urls_file: the total is the engine's hint, when it has one.
    assert "/5," in repr(fetch_module._ProgressView((1, 1, 0, 0, 0, 5), None, 0.0))
    assert repr(fetch_module._ProgressView((1, 1, 0, 0, 0, -1), None, 0.0)).startswith(
        "corun.fetch: 1 done,")


def test_no_progress_display_outside_a_notebook():
    assert fetch_module._notebook_shell() is None
    call, in_order, progress = fetch_module._fetch_call("fetch", ["http://h/a", "", "# c"])
    assert progress == (None, 1) and in_order
    assert fetch_module._start_display(*progress) is None
