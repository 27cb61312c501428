"""The same behaviour under uvloop: the asyncio Futures live on uvloop's loop
and are completed through its call_soon_threadsafe."""

import asyncio

import uvloop

import scenarios
from support import check, test_server


async def main(base):
    check(type(asyncio.get_running_loop()).__module__.startswith("uvloop"), "running on uvloop")
    await scenarios.run_all(base)


if __name__ == "__main__":
    with test_server() as base:
        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
        asyncio.run(main(base))
    print("ok")
