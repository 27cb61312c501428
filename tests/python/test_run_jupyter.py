"""corun.run in a real Jupyter kernel (Debian's ipykernel through nbclient),
executing run.ipynb cell by cell (issue 13): the article's scraper through
`await`, corun.run, corun.run_or_schedule and `%run` of the example file,
with equal results; an exception's traceback; the cross-loop misuse message;
an interrupt (SIGINT to the kernel, as the notebook's stop button sends)
during corun.run followed by cells that work; a third-party asyncio.run
before and after %load_ext corun; a thousand runs without leaks; and the
messages of corun.fetch's live progress display (display_data, then
update_display_data of the same display) and the results' HTML."""

import asyncio
import json
import os
import tempfile
import threading

import nbformat
from nbclient import NotebookClient

from support import HERE, check, check_eq, nginx, server_stats, test_server, wait_until, write_pages

NEVER = ("was never awaited", "Task was destroyed", "Exception ignored",
         "Task exception was never retrieved", "Unclosed client session")


class RecordingClient(NotebookClient):
    """Keeps every display message of each cell, as the kernel sent them."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.displays = {}

    def process_message(self, msg, cell, cell_index):
        if msg["msg_type"] in ("display_data", "update_display_data"):
            self.displays.setdefault(cell_index, []).append(
                (msg["msg_type"], msg["content"].get("transient", {}).get("display_id"),
                 msg["content"]["data"]))
        return super().process_message(msg, cell, cell_index)


def tags(cell):
    return cell.get("metadata", {}).get("tags", [])


def error_of(cell):
    for out in cell.outputs:
        if out.get("output_type") == "error":
            return out
    return None


def streams(cell, name):
    return "".join(out.get("text", "") for out in cell.outputs
                   if out.get("output_type") == "stream" and out.get("name") == name)


def result_data(cell):
    for out in cell.outputs:
        if out.get("output_type") == "execute_result":
            return out["data"]
    return None


def check_progress(displays, what):
    check(displays, f"{what}: no display message")
    kind, display_id, data = displays[0]
    check_eq(kind, "display_data", f"{what}: the first message")
    check(display_id, f"{what}: a display id")
    check(data["text/plain"].startswith("corun.fetch: "), f"{what}: {data}")
    check("<progress" in data["text/html"], f"{what}: a progress bar")
    updates = [d for d in displays[1:] if d[0] == "update_display_data"]
    check(updates, f"{what}: no update_display_data")
    check(all(d[1] == display_id for d in updates), f"{what}: updates of the same display")
    final = updates[-1][2]["text/plain"]
    check("40/40" in final and "40 done" in final and "0 failed" in final
          and "finished in" in final, f"{what}: final state {final!r}")


def main():
    with test_server() as base, tempfile.TemporaryDirectory(prefix="corun-py-") as tmp:
        root = os.path.join(tmp, "www")
        paths = write_pages(root, 40)
        with nginx(root) as nbase:
            os.environ["CORUN_TEST_SERVER"] = base
            os.environ["CORUN_TEST_URLS"] = json.dumps([nbase + p for p in paths])
            os.environ["CORUN_TEST_OUT"] = os.path.join(tmp, "out")
            os.environ["CORUN_EXAMPLES"] = os.path.join(os.environ["CORUN_SOURCE_DIR"],
                                                        "examples")
            nb = nbformat.read(os.path.join(HERE, "run.ipynb"), as_version=4)
            client = RecordingClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": tmp}})
            errors = {}
            with client.setup_kernel():
                for index, cell in enumerate(nb.cells):
                    if cell.cell_type != "code":
                        continue
                    if "interrupt" in tags(cell):
                        started = server_stats(base)["slow_started"]

                        def interrupt():
                            wait_until(lambda: server_stats(base)["slow_started"] > started,
                                       "the cell's slow request")
                            # What the notebook's stop button makes the server do
                            # (SIGINT to the kernel); nbclient's manager is async.
                            asyncio.run(client.km.interrupt_kernel())

                        waiter = threading.Thread(target=interrupt, daemon=True)
                        waiter.start()
                        client.execute_cell(cell, index)
                        waiter.join()
                        wait_until(lambda: server_stats(base)["slow_active"] == 0,
                                   "the interrupted transfer to stop")
                    else:
                        client.execute_cell(cell, index)
                    error = error_of(cell)
                    if "expect-error" in tags(cell) or "interrupt" in tags(cell):
                        check(error is not None, f"cell {index} raised nothing")
                        errors[index] = error
                    else:
                        check(error is None, f"cell {index} failed: {cell.outputs}")
                    stderr = streams(cell, "stderr")
                    for bad in NEVER:
                        check(bad not in stderr, f"cell {index}: {bad!r} in {stderr!r}")

            by_tag = {}
            for index, cell in enumerate(nb.cells):
                for tag in tags(cell):
                    by_tag[tag] = by_tag.get(tag, []) + [index]

            i = by_tag["example"][0]
            check(streams(nb.cells[i], "stdout").endswith("30 pages\n"),
                  f"%run of the example: {nb.cells[i].outputs}")

            deep, misuse = by_tag["expect-error"]
            check_eq((errors[deep]["ename"], errors[deep]["evalue"]), ("ValueError", "from deep"),
                     "the exception")
            trace = "\n".join(errors[deep]["traceback"])
            check("failing" in trace and "deep" in trace, f"the original traceback: {trace}")
            check_eq(errors[misuse]["ename"], "RuntimeError", "misuse")
            check("create it inside the coroutine you pass to corun.run(), or await the "
                  "coroutine directly" in errors[misuse]["evalue"], errors[misuse]["evalue"])

            # A cell without an await (Python's SIGINT handler) and one with
            # (ipykernel's own, which corun.run wraps).
            check_eq(len(by_tag["interrupt"]), 2, "interrupted cells")
            for interrupted in by_tag["interrupt"]:
                check_eq(errors[interrupted]["ename"], "KeyboardInterrupt",
                         f"the interrupted cell {interrupted}")

            first, again = by_tag["routed-first"][0], by_tag["routed-again"][0]
            check_eq(streams(nb.cells[first], "stderr").count("corun: asyncio.run() was called"),
                     1, "%load_ext corun says so once")
            check_eq(streams(nb.cells[again], "stderr"), "", "and only once")

            check_progress(client.displays.get(by_tag["progress-await"][0], []), "await fetch")
            check_progress(client.displays.get(by_tag["progress-sync"][0], []), "fetch_sync")
            check_eq(client.displays.get(by_tag["no-progress"][0], []), [], "progress=False")
            # nbclient applied the updates in place: the cell's output is the final state.
            cell = nb.cells[by_tag["progress-await"][0]]
            shown = [o for o in cell.outputs if o.get("output_type") == "display_data"]
            check_eq(len(shown), 1, "one display in the cell's output")
            check("finished in" in shown[0]["data"]["text/plain"], "updated in place")
            html = result_data(cell)["text/html"]
            check("40 done, 0 failed" in html and "GBK" in html, f"FetchResults html: {html}")
            record = result_data(nb.cells[by_tag["record"][0]])
            check("<table>" in record["text/html"] and "FetchRecord" in record["text/html"],
                  f"FetchRecord html: {record}")
    print("ok")


if __name__ == "__main__":
    main()
