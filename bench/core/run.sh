#!/bin/sh
# Runs the core runtime workloads side by side with asyncio and uvloop and prints
# a markdown table of medians with ratios (see bench/README.md, "Core runtime").
#
#   bench/core/run.sh [BUILD_DIR]
#
# BUILD_DIR (default: build-bench next to this repository's top level) must
# hold a Release build of bench/core (cmake -DCMAKE_BUILD_TYPE=Release).
# Environment: RUNS (default 5) runs per workload and implementation, the
# median is reported; N (default 1000000) tasks / switches per workload;
# WORKLOADS (default "gather sleep0 event"); PYTHON (default /usr/bin/python3,
# Debian's, which has uvloop); RESULTS: a file to keep the raw key=value lines in.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
build=${1:-$top/build-bench}
bench="$build/bench/core/core_bench"
runs=${RUNS:-5}
n=${N:-1000000}
workloads=${WORKLOADS:-gather sleep0 event}
python=${PYTHON:-/usr/bin/python3}

if [ ! -x "$bench" ]; then
  echo "run.sh: $bench not found; build it first:" >&2
  echo "  cmake -S $top -B $build -G Ninja -DCMAKE_BUILD_TYPE=Release && cmake --build $build -j2 --target core_bench" >&2
  exit 2
fi
"$python" -c 'import uvloop' 2>/dev/null || { echo "run.sh: $python has no uvloop (apt-get install python3-uvloop)" >&2; exit 2; }

results=$(mktemp)
trap 'rm -f "$results"' EXIT

# Interleave the implementations so that a noisy moment hits all of them alike.
i=1
while [ "$i" -le "$runs" ]; do
  for w in $workloads; do
    echo "run $i/$runs: $w" >&2
    "$bench" "$w" "$n" >>"$results"
    "$python" "$here/peer.py" "$w" "$n" >>"$results"
    "$python" "$here/peer.py" "$w" uvloop "$n" >>"$results"
  done
  i=$((i + 1))
done

if [ -n "${RESULTS:-}" ]; then cp "$results" "$RESULTS"; fi

"$python" - "$results" "$runs" "$n" <<'EOF'
import statistics
import sys

path, runs, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
samples = {}
for line in open(path):
    kv = dict(field.split("=", 1) for field in line.split())
    key = (kv["workload"], kv["impl"])
    samples.setdefault(key, []).append(kv)

def median(workload, impl, field):
    values = [float(s[field]) for s in samples.get((workload, impl), [])]
    return statistics.median(values) if values else None

rows = [
    ("gather", "cpu_seconds", "(a) create + gather {n:,} trivial tasks, CPU", "s", ">= 50x faster than asyncio", 50.0),
    ("gather", "seconds", "(a) the same, wall", "s", "", None),
    ("sleep0", "cpu_seconds", "(b) {n:,} `sleep(0)` switches in one task, CPU", "s", ">= 20x faster than asyncio", 20.0),
    ("sleep0", "seconds", "(b) the same, wall", "s", "", None),
    ("event", "bytes_per_task", "(c) {n:,} tasks waiting on one Event: peak RSS per task", "B", "<= 256 B per task", None),
    ("event", "cpu_seconds", "(c) the same: create, wait, set, finish, CPU", "s", "", None),
]
print(f"{runs} runs each, median; N = {n:,}; CPU = user + system time of the workload\n")
print("| workload | corun | asyncio | uvloop | corun vs asyncio | corun vs uvloop | target |")
print("|---|---:|---:|---:|---:|---:|---|")
for workload, field, title, unit, target, min_ratio in rows:
    c, a, u = (median(workload, impl, field) for impl in ("corun", "asyncio", "uvloop"))
    if c is None:
        continue
    fmt = (lambda v: f"{v:.3f} s") if unit == "s" else (lambda v: f"{v:.0f} B")
    word = "faster" if unit == "s" else "less"
    ratio = lambda peer: f"{peer / c:.1f}x {word}" if peer and c > 0 else "n/a"
    verdict = ""
    if target:
        if min_ratio is not None:
            met = a is not None and a / c >= min_ratio
        else:
            met = c <= 256
        verdict = f"{target}: {'met' if met else 'MISSED'}"
    print(f"| {title.format(n=n)} | {fmt(c)} | {fmt(a) if a else 'n/a'} | {fmt(u) if u else 'n/a'} "
          f"| {ratio(a)} | {ratio(u)} | {verdict} |")
EOF
