"""A local HTTP test server for the Python binding's tests (its own process).

Run: server.py  -> prints "PORT <n>" once listening on 127.0.0.1, serves until killed.

  /page/<n>       a GB18030 page declared gb2312 in <meta> (no HTTP charset), as the scraper meets
  /status/<code>  that status, a short text body
  /redirect/<n>   302 chain of n hops ending at /page/0
  /goto?to=URL    302 to URL (percent-decoded): a Location as given, spaces and all
  /slow           promises 1 MB, sends a byte every 50 ms until the client leaves
  /hang           sends nothing for 60 s
  /delay/<ms>     /page/<ms> after ms milliseconds
  /late/<ms>/<n>  /page/<n> after ms milliseconds, counted as a page served
  /truncated      promises 1000 bytes, sends 10, closes
  /json           {"ok": true, "items": [1, 2, 3]}
  /setcookie      sets sid=py (Path=/); /delcookie deletes it (an Expires in 1970);
  /setquoted      sets q="two words" (a quoted value)
  /setbadcookie   sets good=1 and bad\xff=\xfe (a name http.cookies refuses)
  /rawheader      X-Raw: the bytes caf\xc3\xa9 \xff
  /echo           the request as JSON: method, path, headers, body (latin-1 text)
  /stats          {"slow_active": n, "slow_started": n, "pages_served": n, "proxied": n}:
                  /slow responses in flight / ever started; /page/<n> and /late responses
                  sent; requests that came as to a proxy
"""

import http.server
import json
import sys
import threading
import time
import urllib.parse

_lock = threading.Lock()
_stats = {"slow_active": 0, "slow_started": 0, "pages_served": 0, "proxied": 0}


def page_text(n):
    return (f"<!DOCTYPE html><html><head><meta http-equiv=\"Content-Type\" "
            f"content=\"text/html; charset=gb2312\"><title>第{n}页</title></head><body>"
            + "".join(f"<p>第{n}页，第{i}条：中文内容测试，编码转换。</p>" for i in range(40))
            + "</body></html>")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _send(self, status, body, content_type="text/plain; charset=utf-8", extra=()):
        if status in (204, 304):
            body = b""  # no body, and no length (RFC 9110): a client reads none
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        if status not in (204, 304):
            self.send_header("Content-Length", str(len(body)))
        for name, value in extra:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self):
        self.do_GET()

    def do_POST(self):
        self.do_GET()

    def do_PUT(self):
        self.do_GET()

    def do_GET(self):
        if self.path.startswith("http://"):
            # A forward proxy's request ("GET http://host/path"): served as if
            # for this server, and counted.
            self.path = "/" + self.path[len("http://"):].partition("/")[2]
            with _lock:
                _stats["proxied"] += 1
        parts = self.path.split("?")[0].strip("/").split("/")
        head = parts[0]
        if (head == "page" and len(parts) == 2) or (head == "late" and len(parts) == 3):
            if head == "late":
                time.sleep(int(parts[1]) / 1000)
            self._send(200, page_text(int(parts[-1])).encode("gb18030"), "text/html")
            with _lock:
                _stats["pages_served"] += 1
        elif head == "status" and len(parts) == 2:
            self._send(int(parts[1]), f"status {parts[1]}".encode())
        elif head == "redirect" and len(parts) == 2:
            n = int(parts[1])
            target = f"/redirect/{n - 1}" if n > 1 else "/page/0"
            self._send(302, b"", extra=[("Location", target)])
        elif head == "goto":  # /goto?to=URL: 302 to URL (percent-decoded) as it is
            target = urllib.parse.unquote(self.path.partition("?to=")[2])
            self._send(302, b"", extra=[("Location", target)])
        elif head == "bytes":  # /bytes/HEX: that body, declared UTF-8 (/bytes: empty)
            body = bytes.fromhex(parts[1]) if len(parts) == 2 else b""
            self._send(200, body, "text/plain; charset=utf-8")
        elif head == "setcookie":
            self._send(200, b"set", extra=[("Set-Cookie", "sid=py; Path=/")])
        elif head == "rawheader":  # a header value's bytes: UTF-8 "é", then 0xFF
            self._send(200, b"raw", extra=[("X-Raw", "caf\u00c3\u00a9 \u00ff")])
        elif head == "setquoted":  # a quoted value, as http.cookies writes one with a space
            self._send(200, b"set", extra=[("Set-Cookie", 'q="two words"; Path=/')])
        elif head == "setbadcookie":  # a name http.cookies refuses, beside a good one
            self._send(200, b"set", extra=[("Set-Cookie", "good=1; Path=/"),
                                           ("Set-Cookie", "bad\xff=\xfe; Path=/")])
        elif head == "delcookie":  # deletes sid, as a logout does
            self._send(200, b"deleted",
                       extra=[("Set-Cookie", "sid=; Path=/; Expires=Thu, 01 Jan 1970 00:00:01 GMT")])
        elif head == "links":  # RFC 8288 Link headers, two of them
            self._send(200, b"links", extra=[
                ("Link", '</page/2>; rel="next", </page/9>; rel=last, '
                         '<http://other.example/x>; title="a, b; \\"c\\""'),
                ("Link", '<../up>; rel="up"; type=text/html')])
        elif head == "json":
            self._send(200, json.dumps({"ok": True, "items": [1, 2, 3]}).encode(),
                       "application/json")
        elif head == "echo":
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            data = {"method": self.command, "path": self.path,
                    "headers": [[k, v] for k, v in self.headers.items()],
                    "body": body.decode("latin-1")}
            self._send(200, json.dumps(data).encode(), "application/json")
        elif head == "stats":
            with _lock:
                body = json.dumps(_stats).encode()
            self._send(200, body, "application/json")
        elif head == "slow":
            self._slow()
        elif head == "delay" and len(parts) == 2:
            time.sleep(int(parts[1]) / 1000)
            self._send(200, page_text(int(parts[1])).encode("gb18030"), "text/html")
        elif head == "hang":
            time.sleep(60)
        elif head == "truncated":
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"x" * 10)
            self.wfile.flush()
            self.close_connection = True
        else:
            self._send(404, b"not found")

    def _slow(self):
        with _lock:
            _stats["slow_active"] += 1
            _stats["slow_started"] += 1
        try:
            self.send_response(200)
            self.send_header("Content-Length", "1000000")
            self.end_headers()
            for _ in range(1000000):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.05)
        except OSError:
            pass  # the client went away
        finally:
            self.close_connection = True
            with _lock:
                _stats["slow_active"] -= 1


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def main():
    # server.py [HOST]: a loopback address other than 127.0.0.1 makes another
    # host name for the same pages (the shared crawl's per-host limits).
    host = sys.argv[1] if len(sys.argv) > 1 else "127.0.0.1"
    server = Server((host, 0), Handler)
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
