"""`python -m asyncio`, the asyncio REPL, driven through its stdin: top-level
await of corun's coroutines on the REPL's running loop, the blocking twins
inside that running loop, a background task that keeps running between
statements, and a cancelled request followed by one that works."""

import os
import subprocess
import tempfile

from support import PYTHON, check_eq, nginx, server_stats, test_server, wait_until, write_pages

SESSION = """\
import asyncio, corun
s = corun.ClientSession()
r = await s.get(BASE + "/page/1")
print("STATUS", r.status, len(await r.text()))
print("SYNC", s.get_sync(BASE + "/page/2").status)
ticks = []
async def ticker():
    while True:
        await corun.sleep(0.01)
        ticks.append(1)

bg = asyncio.ensure_future(ticker())
n0 = len(ticks)
while len(ticks) <= n0: await asyncio.sleep(0.01)

print("TICKING", len(ticks) > n0)
slow = asyncio.ensure_future(s.get(BASE + "/slow"))
while STATS()["slow_active"] == 0: await asyncio.sleep(0.01)

_ = slow.cancel()
try: await slow
except asyncio.CancelledError: print("CANCELLED")

r = await s.get(BASE + "/page/3")
print("AFTER", r.status)
_ = bg.cancel()
await s.close()
print("CLOSED", s.closed)
"""

FETCH = """\
res = await corun.fetch(URLS, out_dir=OUT)
print("FETCH", res.done, res.failed)
res = corun.fetch_sync(URLS, out_dir=OUT + "-sync")
print("FETCH_SYNC", res.done, res.failed)
"""


def main():
    with test_server() as base, tempfile.TemporaryDirectory(prefix="corun-py-") as tmp:
        stdin = (f"BASE = {base!r}\n"
                 "import json, urllib.request\n"
                 "def STATS(): return json.load(urllib.request.urlopen(BASE + '/stats'))\n\n"
                 + SESSION)
        expected = ["STATUS 200 " + str(len(__import__("support").page_text(1))), "SYNC 200",
                    "TICKING True", "CANCELLED", "AFTER 200", "CLOSED True"]
        root = os.path.join(tmp, "www")
        paths = write_pages(root, 20)
        nginx_ctx = nginx(root)
        nbase = nginx_ctx.__enter__()
        stdin += (f"URLS = {[nbase + p for p in paths]!r}\n"
                  f"OUT = {os.path.join(tmp, 'out')!r}\n" + FETCH)
        expected += ["FETCH 20 0", "FETCH_SYNC 20 0"]
        try:
            proc = subprocess.run([PYTHON, "-W", "default", "-m", "asyncio"], input=stdin,
                                  capture_output=True, text=True, timeout=240)
        finally:
            nginx_ctx.__exit__(None, None, None)
        # The REPL prints its prompts on stdout and its banner on stderr.
        lines = [line.replace(">>> ", "").replace("... ", "").strip()
                 for line in proc.stdout.splitlines()]
        got = [line for line in lines if line]
        check_eq(got, expected, f"REPL output (stderr: {proc.stderr!r})")
        check_eq(proc.returncode, 0, "REPL exit status")
        for line in proc.stderr.splitlines():
            if line and not (line.startswith(("asyncio REPL", "Use \"await\"", "Type \"help\""))
                             or line in (">>> import asyncio", "exiting asyncio REPL...")):
                raise AssertionError(f"unexpected stderr line: {line!r}\n{proc.stderr}")
        wait_until(lambda: server_stats(base)["slow_active"] == 0, "the cancelled transfer to stop")
    print("ok")


if __name__ == "__main__":
    main()
