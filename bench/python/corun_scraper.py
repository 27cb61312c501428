#!/usr/bin/python3
"""The scraper's job done from Python with corun, in three shapes, for bench/python/run.sh.

usage: corun_scraper.py MODE BASE_URL URLS_FILE OUT_DIR CONCURRENCY
  fetch          asyncio.run(corun.fetch(urls, ...)): the whole job on corun's C++ loop
  fetch-uvloop   the same awaited from a uvloop loop
  session        the original scraper's code (gather of get + text(encoding) + write)
                 with corun.ClientSession in place of aiohttp's
"""
import asyncio
import os
import sys

import corun


async def get_info(url, session, out_path):
    resp = await session.request("GET", url)
    resp.raise_for_status()
    html = await resp.text(encoding="GB18030")
    with open(out_path, "w", encoding="utf-8-sig") as f:
        f.write(html)
    return len(html)


async def scrape(urls, out_dir, limit):
    async with corun.ClientSession(limit=limit) as session:
        tasks = [get_info(u, session, os.path.join(out_dir, f"{i}.html")) for i, u in enumerate(urls)]
        return await asyncio.gather(*tasks)


async def fetch(urls, out_dir, limit):
    return await corun.fetch(urls, out_dir=out_dir, concurrency=limit)


def main():
    mode, base, urls_file, out_dir, limit = sys.argv[1:6]
    limit = int(limit)
    os.makedirs(out_dir, exist_ok=True)
    urls = [base + line.strip() for line in open(urls_file) if line.strip()]
    if mode == "session":
        sizes = asyncio.run(scrape(urls, out_dir, limit))
        print(f"{len(sizes)} pages, {sum(sizes)} characters")
        return 0
    if mode == "fetch-uvloop":
        import uvloop
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    elif mode != "fetch":
        sys.exit(f"unknown mode {mode}")
    results = asyncio.run(fetch(urls, out_dir, limit))
    print(f"{results.done} pages done, {results.failed} failed")
    return 0 if results.ok and results.done == len(urls) else 1


if __name__ == "__main__":
    sys.exit(main())
