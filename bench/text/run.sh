#!/usr/bin/env bash
# Text decoding benchmark: makes the corpora, builds text_bench, prints a markdown table
# of corun::text against glibc iconv and ICU (MB/s and ratios, medians of repetitions).
# usage: bench/text/run.sh [PAGES] [REPETITIONS] [BUILD_DIR]   (defaults 2000, 7, build-bench)
set -euo pipefail
pages="${1:-2000}"
reps="${2:-7}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${3:-$root/build-bench}"
shared=$(sh "$root/bench/find_shared.sh") || exit 2

if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCORUN_BUILD_BENCH=ON \
    -DCORUN_BUILD_TESTS=OFF -DCORUN_BUILD_EXAMPLES=OFF -DCORUN_BUILD_APPS=OFF >/dev/null
fi
cmake --build "$build" -j2 --target text_bench >/dev/null

corpus="$build/bench-text-corpus-$pages"
if [ ! -f "$corpus/p/$((pages - 1)).html" ]; then
  /usr/bin/python3 "$shared/make_corpus.py" "$corpus" "$pages" 1
fi
echo "## Text decoding ($(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(uname -m), load average $(cut -d' ' -f1-3 /proc/loadavg))"
echo
"$build/bench/text/text_bench" "$corpus" "$pages" "$reps"
