#!/bin/sh
# Fetches the shared GB18030 corpus from a local nginx with `corun fetch` and with its
# peers, in turns, in the same run, and prints a markdown table of medians with ratios
# (see bench/README.md, "corun fetch"); then draws bench/fetch/results.png.
#
#   bench/fetch/run.sh [BUILD_DIR]
#
# BUILD_DIR (default: build-bench next to this repository's top level) must hold a
# Release build of the `corun` executable (<BUILD_DIR>/apps/corun).
# Environment:
#   PAGES  pages in the corpus (default 10000; 100000 for the big variant)
#   RUNS   runs per implementation, the median is reported (default 5)
#   CONC   concurrency of every client (default 64)
#   IMPLS  which to run (default "corun scraper scraper-uvloop curl wrk")
#   WORK   scratch directory: corpora (kept, they take a while to make) and outputs
#          (default /tmp/corun-fetch-bench)
#   OUT    where every client writes its pages (default WORK/out; OUT=/dev/shm/... puts
#          them on tmpfs, taking this machine's virtual disk out of the comparison)
#   CORUN_EXTRA  extra arguments for `corun fetch`
#   PYTHON Debian's python3 with aiohttp, uvloop and matplotlib (default /usr/bin/python3)
#   PLOT   0 to skip the plot
# Every process is timed by /usr/bin/time (wall, user + sys CPU, peak RSS); a sample
# line per run goes to bench/fetch/results-PAGES.txt, which plot.py reads.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
shared=$(sh "$top/bench/find_shared.sh") || exit 2
build=${1:-$top/build-bench}
corun="$build/apps/corun"
pages=${PAGES:-10000}
runs=${RUNS:-5}
conc=${CONC:-64}
impls=${IMPLS:-corun scraper scraper-uvloop curl wrk}
work=${WORK:-/tmp/corun-fetch-bench}
python=${PYTHON:-/usr/bin/python3}
timecmd=/usr/bin/time

case " $impls " in
*" corun "*)
  if [ ! -x "$corun" ]; then
    echo "run.sh: $corun not found; build it first:" >&2
    echo "  cmake -S $top -B $build -G Ninja -DCMAKE_BUILD_TYPE=Release && cmake --build $build -j2 --target corun" >&2
    exit 2
  fi
  ;;
esac
[ -x "$timecmd" ] || { echo "run.sh: $timecmd missing (apt-get install time)" >&2; exit 2; }
command -v nginx >/dev/null || { echo "run.sh: nginx missing (apt-get install nginx-light)" >&2; exit 2; }
command -v wrk >/dev/null || { echo "run.sh: wrk missing (apt-get install wrk)" >&2; exit 2; }
"$python" -c 'import aiohttp, uvloop' 2>/dev/null ||
  { echo "run.sh: $python lacks aiohttp/uvloop (apt-get install python3-aiohttp python3-uvloop)" >&2; exit 2; }

. "$here/../lib.sh"
mkdir -p "$work"
corpus=$(bench_corpus "$work" "$pages")

out=${OUT:-$work/out}
mkdir -p "$out"
samples="$here/results-$pages.txt"
tmp=$(mktemp -d)
cleanup() {
  bench_nginx_stop "$corpus"
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
bench_nginx_start "$corpus"

sed "s|^|$base|" "$corpus/urls.txt" >"$tmp/urls-full.txt"
"$python" "$here/wrk_paths.py" "$corpus/urls.txt" >"$tmp/rotate.lua"

# One timed run: `measure IMPL COMMAND...`; appends "impl=... seconds=... cpu=... rss_kb=..."
measure() {
  impl=$1
  shift
  rm -rf "$out/$impl"
  mkdir -p "$out/$impl"
  sync
  if ! "$timecmd" -f '%e %U %S %M' -o "$tmp/time" "$@" >"$tmp/stdout" 2>"$tmp/stderr"; then
    echo "run.sh: $impl failed:" >&2
    tail -5 "$tmp/stderr" >&2
    exit 1
  fi
  read -r wall user sys rss <"$tmp/time"
  echo "pages=$pages impl=$impl seconds=$wall cpu=$(echo "$user $sys" | awk '{ print $1 + $2 }') rss_kb=$rss" >>"$samples"
  echo "  $impl: $wall s wall, $user+$sys s CPU, $rss KB peak" >&2
}

# wrk runs for a fixed time over all the corpus paths; its pages/s is requests/s, and
# its "seconds" is the time the same number of pages would take at that rate.
measure_wrk() {
  duration=$(awk -v n="$pages" 'BEGIN { d = int(n / 10000 * 5); print (d < 5 ? 5 : d > 30 ? 30 : d) }')
  "$timecmd" -f '%e %U %S %M' -o "$tmp/time" \
    wrk -t1 -c"$conc" -d"${duration}s" -s "$tmp/rotate.lua" "$base" >"$tmp/stdout" 2>"$tmp/stderr"
  rps=$(awk '/^Requests\/sec:/ { print $2 }' "$tmp/stdout")
  read -r wall user sys rss <"$tmp/time"
  awk -v n="$pages" -v rps="$rps" -v w="$wall" -v u="$user" -v s="$sys" -v r="$rss" 'BEGIN {
    t = n / rps; printf "pages=%d impl=wrk seconds=%.3f cpu=%.3f rss_kb=%d\n", n, t, (u + s) * t / w, r }' >>"$samples"
  echo "  wrk: $rps requests/s ($user+$sys s CPU over $wall s), $rss KB peak" >&2
}

: >"$samples"
rev=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo unknown)
git -C "$top" diff --quiet HEAD -- src include apps 2>/dev/null || rev="$rev+changes"
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), conc $conc, out $(df --output=fstype "$out" 2>/dev/null | tail -1), corun $rev" >>"$samples"
# Interleave the implementations so that a noisy moment hits all of them alike.
r=1
while [ "$r" -le "$runs" ]; do
  echo "run $r/$runs ($pages pages, concurrency $conc)" >&2
  for impl in $impls; do
    case $impl in
    corun)
      # shellcheck disable=SC2086
      measure corun "$corun" fetch -c "$conc" --per-host "$conc" -i "$tmp/urls-full.txt" \
        --out "$out/corun" --report "$out/corun.report.jsonl" ${CORUN_EXTRA:-}
      ;;
    scraper) measure scraper "$python" "$shared/peers/aiohttp_seed.py" "$base" "$corpus/urls.txt" "$out/scraper" "$conc" ;;
    scraper-uvloop) measure scraper-uvloop "$python" "$shared/peers/aiohttp_seed.py" "$base" "$corpus/urls.txt" "$out/scraper-uvloop" "$conc" uvloop ;;
    curl) measure curl sh "$shared/peers/curl_parallel.sh" "$base" "$corpus/urls.txt" "$out/curl" "$conc" ;;
    wrk) measure_wrk ;;
    *) echo "run.sh: unknown implementation $impl" >&2; exit 2 ;;
    esac
  done
  r=$((r + 1))
done

# corun's files must be the scraper's files, byte for byte (GB18030 -> UTF-8 with a BOM).
check=""
if [ -d "$out/corun" ] && [ -d "$out/scraper" ]; then
  if "$python" "$here/check_outputs.py" "$out/corun.report.jsonl" "$out/scraper" "$pages" >"$tmp/check" 2>&1; then
    check="ok"
  else
    check="MISMATCH"
  fi
  cat "$tmp/check" >&2
fi

"$python" "$here/table.py" "$samples" "$check"
if [ "${PLOT:-1}" != 0 ]; then
  "$python" "$here/plot.py" "$here/results.png" "$here"/results-*.txt
fi
