#!/usr/bin/python3
"""The scraper on corun.ClientSession with extra work per page (CPU in the
task, after the response), so that the network outruns the Python code: what
a ClientSession holds then is the backlog of finished responses
(bench/README.md, "Sitting 15"). Prints wall seconds; run it under
/usr/bin/time for peak RSS.

usage: slow_consumer.py URLS_FILE OUT_DIR CA_FILE [WORK] [LIMIT]
  WORK: loop iterations per page (default 20000, about 0.5 ms here)
"""

import asyncio
import os
import sys
import time

import corun


async def get_info(session, url, out_path, work):
    async with session.get(url) as resp:
        resp.raise_for_status()
        html = await resp.text()
    with open(out_path, "w", encoding="utf-8-sig") as f:
        f.write(html)
    n = 0
    for i in range(work):  # the page's own processing, on the Python thread
        n += i
    return len(html)


async def main(urls, out_dir, ca_file, work, limit):
    async with corun.ClientSession(limit=limit, ca_file=ca_file) as s:
        return await asyncio.gather(*(get_info(s, u, os.path.join(out_dir, f"{i}.html"), work)
                                      for i, u in enumerate(urls)))


if __name__ == "__main__":
    urls_file, out_dir, ca_file = sys.argv[1:4]
    work = int(sys.argv[4]) if len(sys.argv) > 4 else 20000
    limit = int(sys.argv[5]) if len(sys.argv) > 5 else 64
    with open(urls_file, encoding="utf-8") as f:
        urls = [line.strip() for line in f if line.strip()]
    os.makedirs(out_dir, exist_ok=True)
    t0 = time.perf_counter()
    sizes = corun.run(main(urls, out_dir, ca_file, work, limit))
    print(f"{len(sizes)} pages in {time.perf_counter() - t0:.2f} s")
