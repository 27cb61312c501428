"""Process-level behaviour, each in a child python: Ctrl-C (a real SIGINT)
while a blocking twin or asyncio.run waits on C++ work cancels that work and
leaves the module usable; tracemalloc on from the start is no hang; an
interpreter that exits with C++ work still in
flight, and daemon threads going in and out of the GIL, exits at once,
cleanly, with nothing on stderr (under TSan: no race either)."""

import os
import signal
import subprocess
import sys
import tempfile

from support import PYTHON, check, check_eq, server_stats, test_server, wait_until

PRELUDE = """
import asyncio, sys, threading
import corun
base = sys.argv[1]
tmp = sys.argv[2]
"""

SIGINT_GET_SYNC = PRELUDE + """
s = corun.ClientSession()
try:
    s.get_sync(base + "/slow")
    print("not interrupted")
except KeyboardInterrupt:
    print("interrupted", flush=True)
print("after", s.get_sync(base + "/page/1").status, flush=True)
s.close_sync()
"""

SIGINT_FETCH_SYNC = PRELUDE + """
try:
    # One at a time: the page is done (its record made) before /slow starts.
    corun.fetch_sync([base + "/page/2", base + "/slow"], out_dir=tmp, retries=0, concurrency=1)
    print("not interrupted")
except KeyboardInterrupt:
    # The run is over when KeyboardInterrupt comes: the page's record is written.
    with open(tmp + "/report.jsonl") as f:
        print("interrupted", len(f.readlines()), flush=True)
r = corun.fetch_sync([base + "/page/1"], out_dir=tmp)
print("after", r[0].status, flush=True)
"""

SIGINT_ASYNCIO_RUN = PRELUDE + """
s = corun.ClientSession()
async def main():
    await s.get(base + "/slow")
try:
    asyncio.run(main())
    print("not interrupted")
except KeyboardInterrupt:
    print("interrupted", flush=True)
async def again():
    return (await s.get(base + "/page/1")).status
print("after", asyncio.run(again()), flush=True)
s.close_sync()
"""

EXIT_IN_FLIGHT = PRELUDE + """
s = corun.ClientSession()   # never closed
threading.Thread(target=lambda: s.get_sync(base + "/hang"), daemon=True).start()
page = s.get_sync(base + "/page/1")
def decode_forever():   # in and out of the GIL (text_sync() decodes without it) until the end
    while True:
        page.text_sync()
threading.Thread(target=decode_forever, daemon=True).start()
async def main():
    global background
    background = asyncio.create_task(s.get(base + "/slow"))   # cancelled by asyncio.run
    await corun.sleep(0.05)
asyncio.run(main())
s2 = corun.ClientSession()   # unclosed too, with pooled keep-alive connections
assert s2.get_sync(base + "/page/1").status == 200
print("exiting", flush=True)
"""

# tracemalloc on before corun's first call (-X tracemalloc, PYTHONTRACEMALLOC):
# libuv allocates with Python's raw allocator, which tracemalloc makes take the
# GIL, so the loop thread's start used to wait for the GIL its caller held: a
# hang that no signal ended. Also in a fork's child, whose first call starts
# a loop thread of its own.
TRACEMALLOC = PRELUDE + """
import os, tracemalloc
assert tracemalloc.is_tracing()
print(corun.sleep_sync(0.01, "first"), flush=True)
s = corun.ClientSession()
print(s.get_sync(base + "/page/1").status, flush=True)
s.close_sync()
pid = os.fork()
if pid == 0:
    print(corun.sleep_sync(0.01, "child"), flush=True)
    os._exit(0)
print("child exit", os.waitpid(pid, 0)[1], flush=True)
"""


def run_child(source, base, tmp, interrupt=False, options=()):
    # Warnings shown (-W default), but not -X dev: its asyncio debug mode logs callbacks
    # slower than 100 ms, which a loaded machine produces.
    proc = subprocess.Popen([PYTHON, "-W", "default", *options, "-c", source, base, tmp],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if interrupt:
        started = server_stats(base)["slow_started"]
        wait_until(lambda: server_stats(base)["slow_started"] > started or proc.poll() is not None,
                   "the child's slow request")
        check(proc.poll() is None, "child still waiting")
        os.kill(proc.pid, signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"child did not finish: {out!r} {err!r}")
    return proc.returncode, out, err


def main():
    with test_server() as base, tempfile.TemporaryDirectory(prefix="corun-py-") as tmp:
        for name, source in [("get_sync", SIGINT_GET_SYNC), ("fetch_sync", SIGINT_FETCH_SYNC),
                             ("asyncio.run", SIGINT_ASYNCIO_RUN)]:
            rc, out, err = run_child(source, base, tmp, interrupt=True)
            said = "interrupted 1" if name == "fetch_sync" else "interrupted"
            check_eq((rc, out, err), (0, said + "\nafter 200\n", ""), f"Ctrl-C in {name}")
            # The C++ transfer was stopped: the server saw the client leave.
            wait_until(lambda: server_stats(base)["slow_active"] == 0, f"{name}'s transfer to stop")

        rc, out, err = run_child(TRACEMALLOC, base, tmp, options=("-X", "tracemalloc"))
        check_eq((rc, out, err), (0, "first\n200\nchild\nchild exit 0\n", ""),
                 "under tracemalloc")

        rc, out, err = run_child(EXIT_IN_FLIGHT, base, tmp)
        check_eq((rc, out, err), (0, "exiting\n", ""), "exit with work in flight")
        wait_until(lambda: server_stats(base)["slow_active"] == 0, "transfers to stop at exit")
    print("ok")


if __name__ == "__main__":
    sys.exit(main())
