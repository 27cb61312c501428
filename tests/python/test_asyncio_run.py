"""asyncio.run(...): the binding's behaviour on asyncio's own loop, and one
session used from two loops in turn (two asyncio.run calls)."""

import asyncio

import corun
import scenarios
from support import check_eq, test_server


async def status(session, url):
    return (await session.get(url)).status


def main():
    with test_server() as base:
        asyncio.run(scenarios.run_all(base))

        # A session is not bound to an asyncio loop: no "attached to a different loop".
        s = corun.ClientSession()
        check_eq(asyncio.run(status(s, base + "/page/1")), 200, "first loop")
        check_eq(asyncio.run(status(s, base + "/page/2")), 200, "second loop")
        s.close_sync()
    print("ok")


if __name__ == "__main__":
    main()
