#!/bin/sh
# What the 10,000-page job costs at least on this machine, part by part, next to the
# targets, in one run: the least wall time any fetcher built on libcurl (as corun
# is) can reach when it does corun fetch's work (GET every page, decode GB18030,
# write each file atomically with a BOM) with every core busy and nothing wasted.
#
#   bench/fetch/floor.sh [BUILD_DIR]     (BUILD_DIR: Release build with apps/corun and
#                                         bench/fetch/fetch_floor; default build-bench)
# Environment: RUNS (5), CONC (64), WORK (/tmp/corun-fetch-bench), OUT (WORK/out; a
# tmpfs folder such as /dev/shm/floor keeps the virtual disk out), PYTHON.
#
# In turns, RUNS times: the original scraper and curl --parallel (their wall time sets
# the targets: 8x and 1.5x their pages/s), corun fetch, and the parts measured alone:
#   http    fetch_floor http: a bare libcurl multi loop, bodies discarded (CPU)
#   nginx   the nginx worker's CPU while that loop ran (read from /proc)
#   files   fetch_floor files: every page written as corun fetch writes it (CPU)
#   decode  fetch_floor decode: every page decoded (CPU)
# floor = (http + nginx + files + decode) / cores: perfect use of every core, no
# hand-offs, no report, no bookkeeping. Medians; a markdown table on stdout.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
shared=$(sh "$top/bench/find_shared.sh") || exit 2
build=${1:-$top/build-bench}
runs=${RUNS:-5}
conc=${CONC:-64}
work=${WORK:-/tmp/corun-fetch-bench}
python=${PYTHON:-/usr/bin/python3}
pages=10000
for f in "$build/apps/corun" "$build/bench/fetch/fetch_floor"; do
  [ -x "$f" ] || { echo "floor.sh: $f not found (Release build with bench and apps)" >&2; exit 2; }
done

. "$here/../lib.sh"
corpus=$(bench_corpus "$work" "$pages")
out=${OUT:-$work/out}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'bench_nginx_stop "$corpus"; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
bench_nginx_start "$corpus"
sed "s|^|$base|" "$corpus/urls.txt" >"$tmp/urls-full.txt"
worker=$(pgrep -P "$(cat "$corpus/nginx.pid")" | head -1)  # worker_processes 1
ticks=$(getconf CLK_TCK)
nginx_cpu() { awk -v t="$ticks" '{ printf "%.3f", ($14 + $15) / t }' "/proc/$worker/stat"; }

samples="$tmp/samples"
: >"$samples"
wall_of() {  # NAME COMMAND...: records the wall time
  name=$1
  shift
  /usr/bin/time -f '%e %U %S' -o "$tmp/time" "$@" >/dev/null 2>"$tmp/err" ||
    { echo "floor.sh: $name failed:" >&2; tail -3 "$tmp/err" >&2; exit 1; }
  read -r w u s <"$tmp/time"
  echo "$name wall $w" >>"$samples"
  echo "$name cpu $(echo "$u $s" | awk '{ print $1 + $2 }')" >>"$samples"
}
cpu_of() {  # NAME COMMAND...: records the "cpu=" the command prints
  name=$1
  shift
  "$@" >"$tmp/line" 2>"$tmp/err" || { echo "floor.sh: $name failed:" >&2; tail -3 "$tmp/err" >&2; exit 1; }
  echo "$name cpu $(sed -n 's/.*cpu=\([0-9.]*\).*/\1/p' "$tmp/line")" >>"$samples"
}

r=1
while [ "$r" -le "$runs" ]; do
  echo "run $r/$runs" >&2
  rm -rf "$out/floor-scraper" "$out/floor-curl" "$out/floor-corun" "$out/floor-files"
  wall_of scraper "$python" "$shared/peers/aiohttp_seed.py" "$base" "$corpus/urls.txt" "$out/floor-scraper" "$conc"
  wall_of curl sh "$shared/peers/curl_parallel.sh" "$base" "$corpus/urls.txt" "$out/floor-curl" "$conc"
  n0=$(nginx_cpu)
  wall_of corun "$build/apps/corun" fetch -c "$conc" -i "$tmp/urls-full.txt" --out "$out/floor-corun" \
    --report "$out/floor-corun.jsonl"
  n1=$(nginx_cpu)
  cpu_of http "$build/bench/fetch/fetch_floor" http "$base" "$corpus/urls.txt" "$conc"
  n2=$(nginx_cpu)
  echo "nginx-corun cpu $(echo "$n0 $n1" | awk '{ print $2 - $1 }')" >>"$samples"
  echo "nginx cpu $(echo "$n1 $n2" | awk '{ print $2 - $1 }')" >>"$samples"
  cpu_of files "$build/bench/fetch/fetch_floor" files "$corpus" "$out/floor-files"
  cpu_of decode "$build/bench/fetch/fetch_floor" decode "$corpus"
  r=$((r + 1))
done

cores=$(nproc)
echo "10,000 pages, $runs runs, medians ($(date -u +%Y-%m-%dT%H:%MZ), $cores cores, load $(cut -d' ' -f1-3 /proc/loadavg), conc $conc, out $(df --output=fstype "$out" | tail -1))"
echo
awk -v cores="$cores" '
  { v[$1 " " $2] = v[$1 " " $2] " " $3 }
  function median(key,   a, n, i, j, t) {
    n = split(v[key], a, " ")
    for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  END {
    http = median("http cpu"); ng = median("nginx cpu"); files = median("files cpu"); dec = median("decode cpu")
    floor = (http + ng + files + dec) / cores
    s = median("scraper wall"); c = median("curl wall"); w = median("corun wall")
    print "| part (CPU s, measured alone) | median |"
    print "|---|---:|"
    printf "| libcurl requests, bodies discarded (bare multi loop) | %.3f |\n", http
    printf "| nginx serving them | %.3f |\n", ng
    printf "| writing the files atomically, with a BOM (corun::fs) | %.3f |\n", files
    printf "| decoding GB18030 (corun::text) | %.3f |\n", dec
    printf "| **floor: their sum / %d cores** | **%.3f s wall** |\n", cores, floor
    print ""
    print "| | wall s | pages/s |"
    print "|---|---:|---:|"
    printf "| original scraper | %.3f | %.0f |\n", s, 10000 / s
    printf "| curl --parallel | %.3f | %.0f |\n", c, 10000 / c
    printf "| corun fetch (CPU %.3f s, nginx %.3f s) | %.3f | %.0f |\n", median("corun cpu"), median("nginx-corun cpu"), w, 10000 / w
    printf "| floor | %.3f | %.0f |\n", floor, 10000 / floor
    printf "| target 8x the scraper | %.3f | %.0f |\n", s / 8, 80000 / s
    printf "| target 1.5x curl | %.3f | %.0f |\n", c / 1.5, 15000 / c
    print ""
    printf "- the floor is %.2fx the scraper and %.2fx curl; corun fetch is %.2fx and %.2fx\n", s / floor, c / floor, s / w, c / w
    printf "- corun fetch takes %.2fx the floor\n", w / floor
  }' "$samples"
