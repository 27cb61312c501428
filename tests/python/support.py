"""Helpers shared by the Python binding's tests: the local servers and checks.

Nothing here talks to the internet: a test server process (server.py) for the
dynamic cases, and a real nginx (Debian's nginx-light) on loopback for static
pages, as the C++ tests use.
"""

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = "/usr/bin/python3"


def check_sanitizer_loaded():
    """Under a sanitized build (tests/python/CMakeLists.txt) the tests run only
    with the sanitizer's runtime in the process: a test run without it would
    check nothing it claims to."""
    preload = os.environ.get("CORUN_SANITIZER_PRELOAD")
    if not preload:
        return
    with open("/proc/self/maps") as f:
        maps = f.read()
    for lib in preload.split(":"):
        if os.path.realpath(lib) not in maps:
            raise RuntimeError(f"{lib} is not loaded: LD_PRELOAD={os.environ.get('LD_PRELOAD')!r}")


check_sanitizer_loaded()


def check(condition, what):
    if not condition:
        raise AssertionError(what)


def check_eq(got, expected, what=""):
    if got != expected:
        raise AssertionError(f"{what}: got {got!r}, expected {expected!r}")


@contextlib.contextmanager
def raises(exc_type, contains=None):
    """with raises(ValueError, "text"): the block must raise exc_type."""
    try:
        yield
    except exc_type as e:
        if contains is not None and contains not in str(e):
            raise AssertionError(f"{exc_type.__name__} raised without {contains!r}: {e}") from e
        return
    raise AssertionError(f"{exc_type.__name__} was not raised")


def wait_until(condition, what, limit=30.0):
    """Polls condition() until true; fails after limit seconds (a bound, not a timing check)."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_port(port, limit=10.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listens on port {port}")


@contextlib.contextmanager
def test_server(host="127.0.0.1"):
    """server.py in its own process, listening on host (a loopback address);
    yields its base URL (no trailing slash)."""
    proc = subprocess.Popen([PYTHON, os.path.join(HERE, "server.py"), host],
                            stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        check(line.startswith("PORT "), f"server.py said {line!r}")
        yield f"http://{host}:{int(line.split()[1])}"
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()


def server_stats(base):
    with urllib.request.urlopen(base + "/stats") as r:
        return json.load(r)


def page_text(n):
    sys.path.insert(0, HERE)
    import server  # noqa: E402
    return server.page_text(n)


def write_pages(root, count):
    """count GB18030 pages (declared gb2312 in <meta>) as root/p/<n>.html; their paths."""
    os.makedirs(os.path.join(root, "p"), exist_ok=True)
    paths = []
    for n in range(count):
        path = f"/p/{n}.html"
        with open(root + path, "wb") as f:
            f.write(page_text(n).encode("gb18030"))
        paths.append(path)
    return paths


def server_env():
    """The environment for a server or tool the tests start (nginx, redis-server,
    redis-cli): without the sanitizer runtime preloaded for the module under test
    (tests/python/CMakeLists.txt); they are not what is tested."""
    env = dict(os.environ)
    if env.get("LD_PRELOAD") == env.get("CORUN_SANITIZER_PRELOAD"):
        env.pop("LD_PRELOAD", None)
    return env


def make_test_ca(folder):
    """A throw-away CA and a certificate for 127.0.0.1 signed by it (openssl);
    returns (ca.pem, server.pem, server.key) paths in folder."""
    ca, ca_key = os.path.join(folder, "ca.pem"), os.path.join(folder, "ca.key")
    cert, key = os.path.join(folder, "server.pem"), os.path.join(folder, "server.key")
    csr, ext = os.path.join(folder, "server.csr"), os.path.join(folder, "san.ext")
    with open(ext, "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                "extendedKeyUsage=serverAuth\n")
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": server_env()}
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=corun-test-ca", "-keyout", ca_key, "-out", ca], check=True,
                   **quiet)
    subprocess.run(["openssl", "req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=corun-test",
                    "-keyout", key, "-out", csr], check=True, **quiet)
    subprocess.run(["openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key,
                    "-CAcreateserial", "-days", "2", "-extfile", ext, "-out", cert], check=True,
                   **quiet)
    return ca, cert, key


@contextlib.contextmanager
def nginx(root, tls=False):
    """A real nginx serving root on loopback, keep-alive on; yields its base URL.
    tls=True: HTTPS (HTTP/1.1) with a certificate from make_test_ca, each request
    logged with its connection's number; yields (base URL, CA file, access log)."""
    exe = shutil.which("nginx") or "/usr/sbin/nginx"
    port = free_port()
    conf_dir = tempfile.mkdtemp(prefix="corun-py-nginx-")
    conf = os.path.join(conf_dir, "nginx.conf")
    access_log = os.path.join(conf_dir, "access.log")
    if tls:
        ca, cert, key = make_test_ca(conf_dir)
        logging = f"log_format conns '$connection $request'; access_log {access_log} conns;"
        listen = f"listen 127.0.0.1:{port} ssl; ssl_certificate {cert}; ssl_certificate_key {key};"
    else:
        logging = "access_log off;"
        listen = f"listen 127.0.0.1:{port};"
    # As root, nginx's workers would run as nobody, who cannot read a private temp folder.
    user = "user root;" if os.geteuid() == 0 else ""
    with open(conf, "w") as f:
        f.write(f"""{user}
worker_processes 1;
daemon off;
pid {conf_dir}/nginx.pid;
error_log {conf_dir}/error.log;
events {{ worker_connections 1024; }}
http {{
  {logging}
  client_body_temp_path {conf_dir};
  proxy_temp_path {conf_dir};
  fastcgi_temp_path {conf_dir};
  uwsgi_temp_path {conf_dir};
  scgi_temp_path {conf_dir};
  keepalive_requests 100000;
  types {{ text/html html; }}
  server {{ {listen} root {root}; }}
}}
""")
    proc = subprocess.Popen([exe, "-c", conf, "-e", os.path.join(conf_dir, "error.log")],
                            env=server_env())
    try:
        _wait_port(port)
        if tls:
            yield f"https://127.0.0.1:{port}", ca, access_log
        else:
            yield f"http://127.0.0.1:{port}"
    finally:
        proc.send_signal(signal.SIGQUIT)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(conf_dir, ignore_errors=True)


def module_env():
    """The environment for a child python that imports the built module."""
    return dict(os.environ)


@contextlib.contextmanager
def redis_server():
    """A private redis-server (Debian's) on a free loopback port, no
    persistence, killed by its pid at the end (never the system service);
    yields its redis://127.0.0.1:PORT URL."""
    exe = shutil.which("redis-server") or "/usr/bin/redis-server"
    port = free_port()
    work = tempfile.mkdtemp(prefix="corun-py-redis-")
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", work, "--daemonize", "no",
                             "--logfile", os.path.join(work, "redis.log")], env=server_env())
    try:
        _wait_port(port)
        yield f"redis://127.0.0.1:{port}"
    finally:
        proc.kill()
        proc.wait()
        shutil.rmtree(work, ignore_errors=True)


def redis_cli(url, *args):
    """One command through Debian's redis-cli against url; its stdout, stripped."""
    host_port = url[len("redis://"):].split("/")[0]
    host, port = host_port.rsplit(":", 1)
    out = subprocess.run(["redis-cli", "-h", host, "-p", port, *args], check=True,
                         capture_output=True, text=True, env=server_env())
    return out.stdout.strip()
