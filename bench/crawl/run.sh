#!/bin/sh
# A crawl's shape: HTTPS (TLS 1.3), HTTP/2, many hosts. One nginx on loopback
# answers on HOSTS addresses (127.0.x.y, one certificate naming them all), the
# shared GB18030 corpus spread round-robin over them; `corun fetch` and its peers
# (curl --parallel, wget2, aria2c, the original aiohttp scraper) fetch it in turns,
# in the same run. Per client: medians of pages/s, CPU s, peak RSS, and from nginx's
# access log ($connection, $ssl_session_reused) the connections it opened and the
# TLS handshakes that were resumptions. See bench/README.md, "corun fetch over
# HTTPS, many hosts".
#
#   bench/crawl/run.sh [BUILD_DIR]
#
# BUILD_DIR (default: build-bench next to this repository's top level) must hold a
# Release build of the `corun` executable (<BUILD_DIR>/apps/corun).
# Needs ../shared/bench next to this repository (the corpus maker, make_corpus.py,
# and the original scraper, peers/aiohttp_seed.py) and the Debian packages
# nginx-light, openssl, curl, wget2, aria2, time, python3-aiohttp (see
# scripts/install-deps.sh).
# Environment:
#   PAGES     pages in the corpus (default 6000)
#   HOSTS     host counts to run (default "1 50 1000"; at most 62500)
#   SERVERS   nginx variants (default "h2"): h2 = TLS 1.3 + HTTP/2, session tickets
#             (nginx's default); h2-cache = the same + ssl_session_cache; h1 = TLS,
#             HTTP/1.1 only; h2-certs = h2 with a certificate per address, naming only
#             that address (one server block each), as separate sites have, where the
#             others share one certificate naming every address (the issue's shape; a
#             client then decodes a 1,000-entry subjectAltName per connection)
#   RUNS      runs per client, the median is reported (default 3)
#   CONC      concurrency of every client (default 64)
#   IMPLS     clients (default "corun curl wget2 aria2c scraper"; also "pyscraper": the
#             same scraper on corun.ClientSession, examples/scraper.py, needs the
#             Python module in BUILD_DIR/python)
#   WORK      scratch directory (default /tmp/corun-crawl-bench)
#   OUT       where every client writes its pages (default WORK/out). On ext4, creating
#             6,000 files in a folder whose 6,000 files were just deleted (the previous
#             client's run) costs seconds of system time in the inode allocator
#             (`recently_deleted`), the same for every client; OUT=/dev/shm/... (tmpfs)
#             leaves each client's own work, as in bench/fetch's main table
#   CORUN_EXTRA  extra arguments for `corun fetch`
#   PYTHON    Debian's python3 with aiohttp and matplotlib (default /usr/bin/python3)
#   PLOT      0 to skip the plot
#   RESULTS   the sample file (default bench/crawl/results.txt)
# Every client verifies the server's certificate against the bench's throw-away CA
# (corun/curl --cacert, wget2/aria2c --ca-certificate, SSL_CERT_FILE for Python).
# One line per run goes to bench/crawl/results.txt; table.py and plot.py read it.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
if [ ! -d "$top/../shared/bench" ]; then
  echo "run.sh: $top/../shared/bench is missing: it holds the corpus maker (make_corpus.py)" >&2
  echo "  and the original scraper (peers/aiohttp_seed.py) every fetch benchmark uses" >&2
  exit 2
fi
shared=$(cd "$top/../shared/bench" && pwd)
build=${1:-$top/build-bench}
corun="$build/apps/corun"
pages=${PAGES:-6000}
hosts_list=${HOSTS:-1 50 1000}
servers=${SERVERS:-h2}
runs=${RUNS:-3}
conc=${CONC:-64}
impls=${IMPLS:-corun curl wget2 aria2c scraper}
work=${WORK:-/tmp/corun-crawl-bench}
python=${PYTHON:-/usr/bin/python3}
timecmd=/usr/bin/time
samples=${RESULTS:-$here/results.txt}

need() { command -v "$1" >/dev/null || { echo "run.sh: $1 missing (apt-get install $2)" >&2; exit 2; }; }
need nginx nginx-light
need openssl openssl
[ -x "$timecmd" ] || { echo "run.sh: $timecmd missing (apt-get install time)" >&2; exit 2; }
for impl in $impls; do
  case $impl in
  corun)
    [ -x "$corun" ] || {
      echo "run.sh: $corun not found; build it first:" >&2
      echo "  cmake -S $top -B $build -G Ninja -DCMAKE_BUILD_TYPE=Release && cmake --build $build -j2 --target corun_app" >&2
      exit 2
    } ;;
  curl) need curl curl ;;
  wget2) need wget2 wget2 ;;
  aria2c) need aria2c aria2 ;;
  scraper) "$python" -c 'import aiohttp' 2>/dev/null ||
    { echo "run.sh: $python lacks aiohttp (apt-get install python3-aiohttp)" >&2; exit 2; } ;;
  pyscraper) PYTHONPATH="$build/python" "$python" -c 'import corun' 2>/dev/null ||
    { echo "run.sh: no corun Python module in $build/python (configure with -DCORUN_BUILD_PYTHON=ON)" >&2; exit 2; } ;;
  *) echo "run.sh: unknown client $impl" >&2; exit 2 ;;
  esac
done

. "$here/../lib.sh"
mkdir -p "$work"
corpus=$(bench_corpus "$work" "$pages")
out=${OUT:-$work/out}
tmp=$(mktemp -d)
srv="$tmp/nginx"
mkdir -p "$srv"
stop_nginx() { [ -f "$srv/nginx.pid" ] && kill "$(cat "$srv/nginx.pid")" 2>/dev/null || true; rm -f "$srv/nginx.pid"; }
cleanup() { stop_nginx; rm -rf "$tmp"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# Host i (0-based) of N: 127.0.x.y, y in 1..250.
addr() { echo "127.0.$(($1 / 250)).$(($1 % 250 + 1))"; }

# A throw-away CA and one server certificate naming every address of the largest run.
max_hosts=0
for h in $hosts_list; do [ "$h" -gt "$max_hosts" ] && max_hosts=$h; done
[ "$max_hosts" -le 62500 ] || { echo "run.sh: at most 62500 hosts" >&2; exit 2; }
certs="$tmp/certs"
mkdir -p "$certs"
{
  printf 'subjectAltName=DNS:localhost'
  i=0
  while [ "$i" -lt "$max_hosts" ]; do printf ',IP:%s' "$(addr "$i")"; i=$((i + 1)); done
  printf '\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n'
} >"$certs/san.ext"
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=corun-bench-ca \
  -keyout "$certs/ca.key" -out "$certs/ca.pem" >/dev/null 2>&1
openssl req -newkey rsa:2048 -nodes -subj /CN=corun-bench -keyout "$certs/server.key" \
  -out "$certs/server.csr" >/dev/null 2>&1
openssl x509 -req -in "$certs/server.csr" -CA "$certs/ca.pem" -CAkey "$certs/ca.key" \
  -CAcreateserial -days 2 -extfile "$certs/san.ext" -out "$certs/server.pem" >/dev/null 2>&1
ca="$certs/ca.pem"

# For h2-certs: a certificate per address, made once per run for the largest host
# count, all for the one key (1,000 RSA keys would take minutes to make; a client
# checks each certificate on its own).
case " $servers " in
*" h2-certs "*)
  i=0
  while [ "$i" -lt "$max_hosts" ]; do
    printf 'subjectAltName=IP:%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' \
      "$(addr "$i")" >"$certs/host.ext"
    openssl x509 -req -in "$certs/server.csr" -CA "$certs/ca.pem" -CAkey "$certs/ca.key" \
      -CAcreateserial -days 2 -extfile "$certs/host.ext" -out "$certs/host-$i.pem" >/dev/null 2>&1
    i=$((i + 1))
  done
  ;;
esac
port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# start_nginx VARIANT HOSTS: one server block listening on every address (h2-certs:
# one per address).
start_nginx() {
  stop_nginx
  case $1 in
  h2 | h2-certs) opts="ssl http2" extra="" ;;
  h2-cache) opts="ssl http2" extra="ssl_session_cache shared:SSL:32m;" ;;
  h1) opts="ssl" extra="" ;;
  *) echo "run.sh: unknown server variant $1" >&2; exit 2 ;;
  esac
  {
    cat <<CONF
worker_processes 1;
worker_rlimit_nofile 20000;
pid $srv/nginx.pid;
error_log $srv/error.log;
events { worker_connections 16000; }
http {
  log_format conns '\$connection \$connection_requests x\$ssl_session_reused';
  keepalive_requests 100000;
  root $corpus;
  access_log $srv/access.log conns;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_certificate_key $certs/server.key;
  $extra
CONF
    i=0
    if [ "$1" = h2-certs ]; then
      # A server block per address, each with its own certificate.
      while [ "$i" -lt "$2" ]; do
        echo "  server { listen $(addr "$i"):$port $opts; ssl_certificate $certs/host-$i.pem; }"
        i=$((i + 1))
      done
    else
      echo "  server {"
      echo "    ssl_certificate $certs/server.pem;"
      while [ "$i" -lt "$2" ]; do echo "    listen $(addr "$i"):$port $opts;"; i=$((i + 1)); done
      echo "  }"
    fi
    echo "}"
  } >"$srv/nginx.conf"
  nginx -c "$srv/nginx.conf" -e "$srv/error.log"
  n=0
  until curl -sf --cacert "$ca" -o /dev/null "https://127.0.0.1:$port/p/0.html"; do
    n=$((n + 1))
    [ "$n" -lt 100 ] || { echo "run.sh: nginx did not answer" >&2; cat "$srv/error.log" >&2; exit 1; }
    sleep 0.1
  done
}

# CPU ticks (user + system) of nginx's worker so far.
server_ticks() {
  awk '{ print $14 + $15 }' "/proc/$(pgrep -P "$(cat "$srv/nginx.pid")" | head -1)/stat"
}

# One timed run: `measure IMPL COMMAND...`; appends a sample line.
measure() {
  impl=$1
  shift
  rm -rf "${out:?}/$impl"
  mkdir -p "$out/$impl"
  sync
  : >"$srv/access.log"
  server_before=$(server_ticks)
  if ! SSL_CERT_FILE="$ca" CURL_CA_BUNDLE="$ca" "$timecmd" -f '%e %U %S %M' -o "$tmp/time" "$@" \
    >"$tmp/stdout" 2>"$tmp/stderr"; then
    echo "run.sh: $impl failed:" >&2
    tail -5 "$tmp/stderr" >&2
    exit 1
  fi
  sleep 0.2 # nginx logs a request just after its response
  read -r wall user sys rss <"$tmp/time"
  # nginx's CPU during the run (its one worker, user + system): what the client left
  # of the two cores is what it can use.
  server_cpu=$(echo "$server_before $(server_ticks) $(getconf CLK_TCK)" | awk '{ printf "%.2f", ($2 - $1) / $3 }')
  set -- $(awk '!seen[$1]++ { c++; if ($3 == "xr") r++ } END { printf "%d %d %d", NR, c, r }' "$srv/access.log")
  if [ "$1" -lt "$pages" ]; then
    echo "run.sh: $impl: nginx logged $1 requests, not $pages" >&2
    exit 1
  fi
  echo "server=$server hosts=$hosts pages=$pages impl=$impl seconds=$wall cpu=$(echo "$user $sys" | awk '{ print $1 + $2 }') rss_kb=$rss requests=$1 conns=$2 resumed=$3 server_cpu=$server_cpu" >>"$samples"
  echo "  $impl: $wall s wall, $user+$sys s CPU, $rss KB peak, $2 connections ($3 resumed) for $1 requests; nginx $server_cpu s CPU" >&2
}

[ -f "$samples" ] && [ "${APPEND:-0}" = 1 ] || : >"$samples"
rev=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$top" diff --quiet HEAD -- src include apps 2>/dev/null || rev="$rev+changes"
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), conc $conc, corun $rev" >>"$samples"

for server in $servers; do
  for hosts in $hosts_list; do
    start_nginx "$server" "$hosts"
    # Page i on host i % HOSTS (a crawl frontier interleaves sites).
    awk -v n="$hosts" -v p="$port" '{ h = (NR - 1) % n;
      printf "https://127.0.%d.%d:%d%s\n", int(h / 250), h % 250 + 1, p, $0 }' "$corpus/urls.txt" >"$tmp/urls.txt"
    awk '{ printf "url = \"%s\"\noutput = \"%s/%d.html\"\n", $0, "'"$out/curl"'", NR - 1 }' "$tmp/urls.txt" >"$tmp/curl.cfg"
    r=1
    while [ "$r" -le "$runs" ]; do
      echo "$server, $hosts hosts, run $r/$runs ($pages pages, concurrency $conc)" >&2
      for impl in $impls; do
        case $impl in
        corun)
          # shellcheck disable=SC2086
          measure corun "$corun" fetch -q -c "$conc" --cacert "$ca" -i "$tmp/urls.txt" \
            --out "$out/corun" --report "$out/corun.report.jsonl" ${CORUN_EXTRA:-}
          ;;
        curl) measure curl curl -s --fail --cacert "$ca" --parallel --parallel-max "$conc" -K "$tmp/curl.cfg" ;;
        wget2)
          measure wget2 wget2 -q --max-threads="$conc" --ca-certificate="$ca" -i "$tmp/urls.txt" \
            -P "$out/wget2" --config=/dev/null
          ;;
        aria2c)
          measure aria2c aria2c -q -j "$conc" --ca-certificate="$ca" -i "$tmp/urls.txt" -d "$out/aria2c" \
            --allow-overwrite=true --auto-file-renaming=false --file-allocation=none --no-conf
          ;;
        scraper) measure scraper "$python" "$shared/peers/aiohttp_seed.py" "" "$tmp/urls.txt" "$out/scraper" "$conc" ;;
        pyscraper)
          # The same scraper on corun.ClientSession (examples/scraper.py), same limit, same CA.
          PYTHONPATH="$build/python${PYTHONPATH:+:$PYTHONPATH}"
          export PYTHONPATH
          measure pyscraper "$python" -c \
            'import sys; sys.path.insert(0, sys.argv[1]); import corun, scraper
corun.run(scraper.main(scraper.read_urls(sys.argv[2]), sys.argv[3], int(sys.argv[4]), ca_file=sys.argv[5]))' \
            "$top/examples" "$tmp/urls.txt" "$out/pyscraper" "$conc" "$ca"
          ;;
        esac
      done
      r=$((r + 1))
    done
  done
done
stop_nginx

"$python" "$here/table.py" "$samples"
if [ "${PLOT:-1}" != 0 ]; then
  "$python" "$here/plot.py" "$samples" "$here/results.png"
fi
