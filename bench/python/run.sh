#!/bin/sh
# corun from Python against the original aiohttp scraper, on the shared GB18030 corpus
# served by nginx on loopback, in turns, in the same run; prints a markdown table of
# medians with pages/s ratios to the scraper (see bench/README.md, "Python binding").
#
#   bench/python/run.sh [BUILD_DIR]
#
# BUILD_DIR (default: build-py next to this repository's top level) must hold the
# package, built with -DCORUN_BUILD_PYTHON=ON (<BUILD_DIR>/python/corun/_corun.*.so).
# Environment:
#   PAGES  pages in the corpus (default 10000)
#   RUNS   runs per implementation, the median is reported (default 3)
#   CONC   concurrency (connection limit) of every client (default 64)
#   IMPLS  default "scraper scraper-uvloop corun-fetch corun-fetch-uvloop corun-session corun-cli"
#          (corun-cli: the `corun fetch` executable of BUILD_DIR, when built: what the
#          binding adds to the engine)
#   WORK   scratch directory: the corpus (kept) and outputs (default /tmp/corun-py-bench)
#   OUT    where every client writes its pages (default WORK/out; /dev/shm/... for tmpfs)
# Every process is timed by /usr/bin/time (wall, user + sys CPU, peak RSS); one line per
# run goes to bench/python/results-PAGES.txt.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
shared=$(sh "$top/bench/find_shared.sh") || exit 2
build=${1:-$top/build-py}
pages=${PAGES:-10000}
runs=${RUNS:-3}
conc=${CONC:-64}
default_impls="scraper scraper-uvloop corun-fetch corun-fetch-uvloop corun-session"
[ -x "$build/apps/corun" ] && default_impls="$default_impls corun-cli"
impls=${IMPLS:-$default_impls}
work=${WORK:-/tmp/corun-py-bench}
python=/usr/bin/python3
timecmd=/usr/bin/time

ls "$build"/python/corun/_corun.*.so >/dev/null 2>&1 || {
  echo "run.sh: no corun module in $build/python; build it first:" >&2
  echo "  cmake -S $top -B $build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCORUN_BUILD_PYTHON=ON && cmake --build $build -j2 --target corun_python" >&2
  exit 2
}
[ -x "$timecmd" ] || { echo "run.sh: $timecmd missing (apt-get install time)" >&2; exit 2; }
command -v nginx >/dev/null || { echo "run.sh: nginx missing (apt-get install nginx-light)" >&2; exit 2; }

. "$here/../lib.sh"
mkdir -p "$work"
corpus=$(bench_corpus "$work" "$pages")

out=${OUT:-$work/out}
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

measure() {  # measure IMPL COMMAND...
  impl=$1
  shift
  rm -rf "$out/$impl"
  mkdir -p "$out/$impl"
  sync
  if ! PYTHONPATH="$build/python" "$timecmd" -f '%e %U %S %M' -o "$tmp/time" "$@" >"$tmp/stdout" 2>"$tmp/stderr"; then
    echo "run.sh: $impl failed:" >&2
    tail -5 "$tmp/stderr" >&2
    exit 1
  fi
  read -r wall user sys rss <"$tmp/time"
  echo "pages=$pages impl=$impl seconds=$wall cpu=$(echo "$user $sys" | awk '{ print $1 + $2 }') rss_kb=$rss" >>"$samples"
  echo "  $impl: $wall s wall, $user+$sys s CPU, $rss KB peak" >&2
}

: >"$samples"
echo "# $(date -u +%Y-%m-%dT%H:%MZ) $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), conc $conc" >>"$samples"
r=1
while [ "$r" -le "$runs" ]; do
  echo "run $r/$runs ($pages pages, concurrency $conc)" >&2
  for impl in $impls; do
    case $impl in
    scraper) measure scraper "$python" "$shared/peers/aiohttp_seed.py" "$base" "$corpus/urls.txt" "$out/scraper" "$conc" ;;
    scraper-uvloop) measure scraper-uvloop "$python" "$shared/peers/aiohttp_seed.py" "$base" "$corpus/urls.txt" "$out/scraper-uvloop" "$conc" uvloop ;;
    corun-fetch) measure corun-fetch "$python" "$here/corun_scraper.py" fetch "$base" "$corpus/urls.txt" "$out/corun-fetch" "$conc" ;;
    corun-fetch-uvloop) measure corun-fetch-uvloop "$python" "$here/corun_scraper.py" fetch-uvloop "$base" "$corpus/urls.txt" "$out/corun-fetch-uvloop" "$conc" ;;
    corun-session) measure corun-session "$python" "$here/corun_scraper.py" session "$base" "$corpus/urls.txt" "$out/corun-session" "$conc" ;;
    corun-cli) measure corun-cli "$build/apps/corun" fetch -c "$conc" -i "$tmp/urls-full.txt" --out "$out/corun-cli" ;;
    *) echo "run.sh: unknown implementation $impl" >&2; exit 2 ;;
    esac
  done
  r=$((r + 1))
done

# Same bytes: corun.fetch's files (named from the URL, p/N.html -> N.html) and the
# session variant's against the scraper's (UTF-8 with a BOM).
if [ -d "$out/scraper" ]; then
  for impl in corun-fetch corun-session; do
    [ -d "$out/$impl" ] || continue
    if "$python" - "$out/scraper" "$out/$impl" "$pages" <<'PY'
import os, sys
a, b, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
bad = [i for i in range(n) if open(os.path.join(a, f"{i}.html"), "rb").read() != open(os.path.join(b, f"{i}.html"), "rb").read()]
sys.exit(f"{len(bad)} files differ, e.g. {bad[:5]}" if bad else 0)
PY
    then echo "  $impl: files identical to the scraper's" >&2
    else echo "  $impl: FILES DIFFER from the scraper's" >&2
    fi
  done
fi

"$python" "$here/table.py" "$samples"
