#!/bin/sh
# HTTP client throughput, side by side in one run: corun's ClientSession (http_bench),
# wrk (the ceiling: what nginx and loopback allow with the least possible client) and
# aiohttp (the peer corun replaces), all GETting the shared GB18030 corpus from one
# nginx with 64 requests in flight, bodies read and discarded. Prints a markdown
# table of medians with ratios (see bench/README.md, "HTTP client").
#
#   bench/http/run.sh [BUILD_DIR]
#
# BUILD_DIR (default: build-bench at the top of the repository) must hold a Release
# build of bench/http/http_bench.
# Environment: PAGES (corpus size, 10000), RUNS (3), CONC (64), REQUESTS (corun's
# requests per run, 50000), PY_REQUESTS (aiohttp's, 10000), WRK_SECONDS (5),
# WORK (scratch dir, /tmp/corun-http-bench), PYTHON (/usr/bin/python3).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
shared=$(sh "$top/bench/find_shared.sh") || exit 2
build=${1:-$top/build-bench}
bench="$build/bench/http/http_bench"
pages=${PAGES:-10000}
runs=${RUNS:-3}
conc=${CONC:-64}
requests=${REQUESTS:-50000}
py_requests=${PY_REQUESTS:-10000}
wrk_seconds=${WRK_SECONDS:-5}
work=${WORK:-/tmp/corun-http-bench}
python=${PYTHON:-/usr/bin/python3}

if [ ! -x "$bench" ]; then
  echo "run.sh: $bench not found; build it first:" >&2
  echo "  cmake -S $top -B $build -G Ninja -DCMAKE_BUILD_TYPE=Release && cmake --build $build -j2 --target http_bench" >&2
  exit 2
fi
command -v nginx >/dev/null || { echo "run.sh: nginx missing (apt-get install nginx-light)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "run.sh: wrk missing (apt-get install wrk)" >&2; exit 2; }

. "$here/../lib.sh"
mkdir -p "$work"
corpus=$(bench_corpus "$work" "$pages")
urls="$corpus/urls.txt"

# wrk requests the same paths in turn.
lua="$work/rotate.lua"
"$python" "$here/../fetch/wrk_paths.py" "$urls" >"$lua"

trap 'bench_nginx_stop "$corpus"' EXIT
trap 'exit 130' INT TERM
bench_nginx_start "$corpus"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
rps_of() { sed -n 's/.*rps=\([0-9.]*\).*/\1/p'; }

: >"$work/corun.txt"; : >"$work/wrk.txt"; : >"$work/aiohttp.txt"; : >"$work/aiohttp-uvloop.txt"
for r in $(seq "$runs"); do
  echo "run $r/$runs" >&2
  wrk -t1 -c"$conc" -d"${wrk_seconds}s" -s "$lua" "$base" | sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' >>"$work/wrk.txt"
  "$bench" "$base" "$urls" "$requests" "$conc" | rps_of >>"$work/corun.txt"
  "$python" "$here/aiohttp_peer.py" "$base" "$urls" "$py_requests" "$conc" | rps_of >>"$work/aiohttp.txt"
  "$python" "$here/aiohttp_peer.py" "$base" "$urls" "$py_requests" "$conc" uvloop | rps_of >>"$work/aiohttp-uvloop.txt"
done

wrk_rps=$(median <"$work/wrk.txt")
corun_rps=$(median <"$work/corun.txt")
aio_rps=$(median <"$work/aiohttp.txt")
aiou_rps=$(median <"$work/aiohttp-uvloop.txt")

echo
echo "$pages-page corpus (~12 KB pages), nginx on loopback, $conc in flight, median of $runs runs, $(nproc) cores"
echo
echo "| client | requests/s | share of wrk | corun is |"
echo "|---|---:|---:|---:|"
awk -v w="$wrk_rps" -v c="$corun_rps" -v a="$aio_rps" -v u="$aiou_rps" 'BEGIN {
  printf "| wrk -t1 (ceiling) | %.0f | 100%% | %.2fx |\n", w, c / w
  printf "| **corun ClientSession** | **%.0f** | **%.0f%%** | 1.00x |\n", c, 100 * c / w
  printf "| aiohttp | %.0f | %.0f%% | %.1fx |\n", a, 100 * a / w, c / a
  printf "| aiohttp + uvloop | %.0f | %.0f%% | %.1fx |\n", u, 100 * u / w, c / u
}'
