"""corun.run / corun.run_or_schedule in `python -m asyncio` (issue 13), driven
through its stdin: the REPL runs statements on its running loop, where
asyncio.run() refuses to work. The article's scraper (examples/scraper.py)
through corun.run and run_or_schedule gives what `await main(urls)` gives;
exceptions keep their traceback; the cross-loop misuse message; a thousand
runs leak no thread and no descriptor; a real SIGINT during corun.run
cancels the coroutine (which cleans up), the REPL shows KeyboardInterrupt,
and the next statements work."""

import os
import signal
import subprocess
import tempfile

from support import PYTHON, check, check_eq, server_stats, test_server, wait_until

PRELUDE = """\
import asyncio, os, sys, threading, traceback, corun
sys.path.insert(0, EXAMPLES)
from scraper import main
URLS = [f"{BASE}/page/{n}" for n in range(30)]
import pathlib
def files(d): return [pathlib.Path(d, f"{n}.html").read_bytes() for n in range(30)]

"""

SESSION = """\
direct = await main(URLS, out_dir=OUT + "/await")
r = corun.run(main(URLS, out_dir=OUT + "/run"))
print("RUN", r == direct, files(OUT + "/run") == files(OUT + "/await"))
t = corun.run_or_schedule(main(URLS, out_dir=OUT + "/sched"))
print("TASK", type(t).__name__)
print("SCHED", (await t) == direct)
c = main(URLS[:1], out_dir=OUT + "/refused")
try: asyncio.run(c)
except RuntimeError as e: c.close(); print("ASYNCIO.RUN", "running event loop" in str(e))

async def deep():
    await corun.sleep(0)
    raise ValueError("from deep")

async def failing():
    await deep()

try: corun.run(failing())
except ValueError as e: print("TB", [f.name for f in traceback.extract_tb(e.__traceback__)][-2:])

pending = asyncio.ensure_future(asyncio.sleep(30))
async def waits(): await pending

try: corun.run(waits())
except RuntimeError as e: print("MISUSE", "create it inside the coroutine you pass to corun.run(), or await the coroutine directly" in str(e))

_ = pending.cancel()
async def trivial(i): return i

def counts(): return threading.active_count(), len(os.listdir("/proc/self/fd"))

_ = corun.run(trivial(0))
before = counts()
print("MANY", sum(corun.run(trivial(1)) for _ in range(1000)), counts() == before)
"""

INTERRUPT = """\
cleaned = []
async def slow():
    async with corun.ClientSession() as s:
        try:
            await s.get(BASE + "/slow")
        except asyncio.CancelledError:
            cleaned.append(True)
            raise

r = corun.run(slow())
"""

AFTER = """\
print("CLEANED", cleaned)
print("AFTER", len(corun.run(main(URLS, out_dir=OUT + "/after"))))
"""


def strip_prompts(text):
    lines = [line.replace(">>> ", "").replace("... ", "").strip() for line in text.splitlines()]
    return [line for line in lines if line]


def check_stderr(err):
    for bad in ("Traceback", "was never awaited", "Task was destroyed", "Exception ignored",
                "attached to a different loop"):
        check(bad not in err, f"{bad!r} in the REPL's stderr:\n{err}")


def main():
    examples = os.path.join(os.environ["CORUN_SOURCE_DIR"], "examples")
    with test_server() as base, tempfile.TemporaryDirectory(prefix="corun-py-") as tmp:
        header = f"BASE = {base!r}\nOUT = {tmp!r}\nEXAMPLES = {examples!r}\n" + PRELUDE
        proc = subprocess.run([PYTHON, "-W", "default", "-m", "asyncio"], input=header + SESSION,
                              capture_output=True, text=True, timeout=300)
        check_eq(strip_prompts(proc.stdout),
                 ["RUN True True", "TASK Task", "SCHED True", "ASYNCIO.RUN True",
                  "TB ['failing', 'deep']", "MISUSE True", "MANY 1000 True"],
                 f"REPL output (stderr: {proc.stderr!r})")
        check_eq(proc.returncode, 0, "REPL exit status")
        check_stderr(proc.stderr)

        # A real SIGINT while corun.run blocks the REPL's loop.
        started = server_stats(base)["slow_started"]
        proc = subprocess.Popen([PYTHON, "-W", "default", "-m", "asyncio"], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        proc.stdin.write(header + INTERRUPT)
        proc.stdin.flush()
        wait_until(lambda: server_stats(base)["slow_started"] > started or proc.poll() is not None,
                   "the REPL's slow request")
        check(proc.poll() is None, "REPL still running")
        os.kill(proc.pid, signal.SIGINT)
        try:
            out, err = proc.communicate(AFTER, timeout=120)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            raise AssertionError(f"the REPL did not finish: {out!r} {err!r}")
        check_eq(strip_prompts(out), ["CLEANED [True]", "AFTER 30"],
                 f"after the interrupt (stderr: {err!r})")
        check("KeyboardInterrupt" in err, f"the REPL reports the interrupt: {err!r}")
        check_stderr(err)
        check_eq(proc.returncode, 0, "REPL exit status")
        wait_until(lambda: server_stats(base)["slow_active"] == 0, "the transfer to stop")
    print("ok")


if __name__ == "__main__":
    main()
