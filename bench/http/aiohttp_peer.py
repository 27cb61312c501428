#!/usr/bin/python3
"""The aiohttp peer of http_bench: N GETs over a rotating list of paths, CONC in flight
through one ClientSession (TCPConnector(limit=CONC)), bodies read and discarded.
Prints "requests=N errors=E bytes=B seconds=S rps=R".

usage: aiohttp_peer.py BASE_URL URLS_FILE REQUESTS CONC [uvloop]
"""
import asyncio
import sys
import time

import aiohttp


async def main(base, paths, requests, conc):
    urls = [base + p for p in paths]
    state = {"next": 0, "errors": 0, "bytes": 0}

    async def worker(session, limit):
        while True:
            i = state["next"]
            if i >= limit:
                return
            state["next"] = i + 1
            try:
                async with session.get(urls[i % len(urls)]) as r:
                    body = await r.read()
                    state["bytes"] += len(body)
                    if r.status != 200:
                        state["errors"] += 1
            except Exception as e:  # noqa: BLE001 - counted, the first one printed
                if state["errors"] == 0:
                    print(f"aiohttp_peer: {e!r}", file=sys.stderr)
                state["errors"] += 1

    connector = aiohttp.TCPConnector(limit=conc)
    async with aiohttp.ClientSession(connector=connector) as session:
        await asyncio.gather(*(worker(session, conc * 4) for _ in range(conc)))  # warm-up
        state.update(next=0, errors=0, bytes=0)
        start = time.perf_counter()
        await asyncio.gather(*(worker(session, requests) for _ in range(conc)))
        secs = time.perf_counter() - start
    print(f"requests={requests} errors={state['errors']} bytes={state['bytes']} "
          f"seconds={secs:.3f} rps={requests / secs:.0f}")


if __name__ == "__main__":
    base, urls_file, requests, conc = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    paths = [line.strip() for line in open(urls_file) if line.strip()]
    if len(sys.argv) > 5 and sys.argv[5] == "uvloop":
        import uvloop
        uvloop.install()
    asyncio.run(main(base, paths, requests, conc))
