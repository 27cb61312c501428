"""A real Jupyter kernel (Debian's ipykernel) executing binding.ipynb through
nbclient, cell by cell: top-level await of corun.fetch against nginx, the
blocking twin, the shared crawl (enqueue, a worker, collect against the
test's own redis-server), a session reused across cells, a background task that runs
while the kernel is idle between cells, and two cells interrupted mid-request
(SIGINT to the kernel, as the notebook's interrupt button sends) each followed
by cells that work."""

import json
import os
import signal
import tempfile
import threading
import time

import nbformat
from nbclient import NotebookClient

from support import (HERE, check, check_eq, nginx, redis_server, server_stats, test_server,
                     wait_until, write_pages)


def tags(cell):
    return cell.get("metadata", {}).get("tags", [])


def cell_result(cell):
    for out in cell.outputs:
        if out.get("output_type") == "execute_result":
            return out["data"]["text/plain"]
    return None


def cell_error(cell):
    for out in cell.outputs:
        if out.get("output_type") == "error":
            return out["ename"]
    return None


def interrupt_when_slow_starts(base, kernel_pid, started):
    def run():
        wait_until(lambda: server_stats(base)["slow_started"] > started, "the cell's slow request")
        os.kill(kernel_pid, signal.SIGINT)
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def main():
    with test_server() as base, tempfile.TemporaryDirectory(prefix="corun-py-") as tmp:
        root = os.path.join(tmp, "www")
        paths = write_pages(root, 40)
        with nginx(root) as nbase, redis_server() as redis:
            os.environ["CORUN_TEST_REDIS"] = redis  # the shared crawl's cell
            os.environ["CORUN_TEST_SERVER"] = base
            os.environ["CORUN_TEST_URLS"] = json.dumps([nbase + p for p in paths])
            os.environ["CORUN_TEST_OUT"] = os.path.join(tmp, "out")
            nb = nbformat.read(os.path.join(HERE, "binding.ipynb"), as_version=4)
            client = NotebookClient(nb, timeout=120, kernel_name="python3",
                                    resources={"metadata": {"path": tmp}})
            interrupted = []
            with client.setup_kernel():
                kernel_pid = client.km.provisioner.process.pid
                for index, cell in enumerate(nb.cells):
                    if cell.cell_type != "code":
                        continue
                    if "between-cells-check" in tags(cell):
                        # Leave the kernel idle, then ask (the cell itself awaits nothing).
                        for _ in range(100):
                            time.sleep(0.1)
                            client.execute_cell(cell, index)
                            if cell_result(cell) == "True":
                                break
                        check_eq(cell_result(cell), "True", "background task ran between cells")
                        continue
                    if "interrupt" in tags(cell):
                        started = server_stats(base)["slow_started"]
                        waiter = interrupt_when_slow_starts(base, kernel_pid, started)
                        client.execute_cell(cell, index)
                        waiter.join()
                        interrupted.append(cell_error(cell))
                        # The C++ transfer stopped: the server saw the client leave.
                        wait_until(lambda: server_stats(base)["slow_active"] == 0,
                                   "the interrupted transfer to stop")
                        continue
                    client.execute_cell(cell, index)
                    error = cell_error(cell)
                    check(error is None, f"cell {index} failed: {error}: {cell.outputs}")
            # ipykernel turns SIGINT during an awaiting cell into a cancellation of the
            # cell's coroutine; a blocking cell gets KeyboardInterrupt.
            check(interrupted[0] in ("CancelledError", "KeyboardInterrupt"),
                  f"awaiting cell ended with {interrupted[0]}")
            check_eq(interrupted[1], "KeyboardInterrupt", "blocking cell")
            check_eq(cell_result(nb.cells[-1]), "True", "session closed by the last cell")
    print("ok")


if __name__ == "__main__":
    main()
