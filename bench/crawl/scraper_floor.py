#!/usr/bin/python3
"""The scraper's own part of a page, with the network taken away: get_info
from examples/scraper.py, the same gather over 6,000 tasks, the same files,
over a stand-in session whose get() hands back an already-decoded page (the
str text() would return, its UTF-8 cache included unless --no-utf8-cache).
What this costs is the least any HTTP library under the scraper can take on
the Python thread (bench/README.md, "Sitting 13").

    bench/crawl/scraper_floor.py URLS_FILE PAGES_DIR OUT_DIR [--no-utf8-cache]

PAGES_DIR: a previous run's output (0.html, 1.html, ... UTF-8 with a BOM), e.g.
the pyscraper client's folder under bench/crawl/run.sh's OUT.
"""

import asyncio
import ctypes
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "examples"))
import scraper  # noqa: E402  (examples/scraper.py; needs corun on PYTHONPATH)


class _Response:
    def __init__(self, text):
        self._text = text

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        return None

    def raise_for_status(self):
        pass

    async def text(self):
        return self._text


class _Session:
    def __init__(self, pages):
        self._pages = pages

    def get(self, url):
        return _Response(self._pages[url])


async def _main(urls, pages, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    session = _Session(pages)
    return await asyncio.gather(*[scraper.get_info(session, url, os.path.join(out_dir, f"{i}.html"))
                                  for i, url in enumerate(urls)])


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    urls = scraper.read_urls(sys.argv[1])
    cache = "--no-utf8-cache" not in sys.argv[4:]
    as_utf8 = ctypes.pythonapi.PyUnicode_AsUTF8
    as_utf8.restype, as_utf8.argtypes = ctypes.c_char_p, [ctypes.py_object]
    pages = {}
    for i, url in enumerate(urls):
        with open(os.path.join(sys.argv[2], f"{i}.html"), encoding="utf-8-sig") as f:
            pages[url] = f.read()
        if cache:
            as_utf8(pages[url])  # what text() hands back carries its UTF-8
    wall, cpu = time.perf_counter(), time.thread_time()
    asyncio.run(_main(urls, pages, sys.argv[3]))
    print(f"{len(urls)} pages: {time.perf_counter() - wall:.3f} s wall, "
          f"{time.thread_time() - cpu:.3f} s of the Python thread (UTF-8 cache: {cache})")


if __name__ == "__main__":
    main()
