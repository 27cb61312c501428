#!/usr/bin/python3
"""The article's scraper on corun: aiohttp's code shape (get_info + gather
over one session), GB18030 pages saved as UTF-8 with a BOM, started with
corun.run(main(urls)) so that the same file runs unchanged

  - as a script:           python3 scraper.py urls.txt [OUT_DIR]
  - from a notebook cell:  %run scraper.py urls.txt   (or: from scraper import main;
                           results = corun.run(main(urls)))
  - in `python -m asyncio`: exec(open("scraper.py").read()) or corun.run(main(urls))

where `asyncio.run(main(urls))` would fail in the last two with "asyncio.run()
cannot be called from a running event loop" (docs/environments.md).
urls.txt: one URL a line (`corun fetch --demo` serves sample pages).
"""

import asyncio
import os
import re
import sys

import corun
from corun import ClientSession

TITLE = re.compile(r"<title>(.*?)</title>", re.S | re.I)


async def get_info(session, url, out_path):
    """One page: fetched, decoded (GB18030 from the page's own <meta>), saved
    as UTF-8 with a BOM; returns (url, title, characters)."""
    async with session.get(url) as resp:
        resp.raise_for_status()
        html = await resp.text()
    with open(out_path, "w", encoding="utf-8-sig") as f:
        f.write(html)
    m = TITLE.search(html)
    return url, (m.group(1).strip() if m else None), len(html)


async def main(urls, out_dir="pages", limit=64, **session_options):
    """session_options: more ClientSession keywords (ca_file=..., http2=...)."""
    os.makedirs(out_dir, exist_ok=True)
    async with ClientSession(limit=limit, **session_options) as session:
        tasks = [get_info(session, url, os.path.join(out_dir, f"{i}.html"))
                 for i, url in enumerate(urls)]
        return await asyncio.gather(*tasks)


def read_urls(path):
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip() and not line.startswith("#")]


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit("usage: scraper.py URLS_FILE [OUT_DIR]")
    urls = read_urls(sys.argv[1])
    results = corun.run(main(urls, out_dir=sys.argv[2] if len(sys.argv) > 2 else "pages"))
    for url, title, size in results[:5]:
        print(f"{url}  {title!r}  {size} characters")
    print(f"{len(results)} pages")
