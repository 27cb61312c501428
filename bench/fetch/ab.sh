#!/bin/sh
# Paired before/after timing of two or more `corun` executables on bench/fetch's job
# (the shared GB18030 corpus from a local nginx, plain HTTP, one host), for telling a
# change's effect from this machine's noise (bench/README.md, "Sitting 9"):
#
#   bench/fetch/ab.sh BEFORE/apps/corun AFTER/apps/corun [MORE...]
#
# Each round runs every executable once, in turn; the first round is dropped (cold
# caches). Per executable: medians of wall, CPU (user, sys), peak RSS and minor page
# faults; per later executable: the median of its per-round ratios to the first, their
# range, in how many rounds it used more, and a two-sided sign test.
# Environment: ROUNDS (default 20), PAGES (default 10000), CONC (default 64), OUT (where
# the pages go, default /dev/shm/corun-ab: on ext4 creating the files costs seconds that
# change from round to round), CORUN_EXTRA (more `corun fetch` arguments), WORK
# (default /tmp/corun-fetch-bench, where the corpus is kept), PYTHON (default
# /usr/bin/python3).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
shared=$(sh "$top/bench/find_shared.sh") || exit 2
[ $# -ge 2 ] || { echo "usage: bench/fetch/ab.sh CORUN_A CORUN_B [MORE...]" >&2; exit 2; }
for exe in "$@"; do
  [ -x "$exe" ] || { echo "ab.sh: $exe is not an executable" >&2; exit 2; }
done
python=${PYTHON:-/usr/bin/python3}
work=${WORK:-/tmp/corun-fetch-bench}
out=${OUT:-/dev/shm/corun-ab}

. "$top/bench/lib.sh"
mkdir -p "$work"
corpus=$(bench_corpus "$work" "${PAGES:-10000}")
tmp=$(mktemp -d)
trap 'bench_nginx_stop "$corpus"; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
bench_nginx_start "$corpus"
sed "s|^|$base|" "$corpus/urls.txt" >"$tmp/urls.txt"

"$python" "$here/ab.py" --urls "$tmp/urls.txt" --out "$out" --rounds "${ROUNDS:-20}" \
  --conc "${CONC:-64}" --extra="${CORUN_EXTRA:-}" "$@"
