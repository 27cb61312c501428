#!/bin/sh
# bench/queue/throughput.sh [BUILD_DIR]: one `corun fetch --queue` worker, then two,
# against plain `corun fetch` on the same corpus from the same local nginx, in the same
# run (turns alternate, RUNS each; medians). Also Redis's CPU seconds and commands per
# URL (round trips: what the clients sent) for the queue runs. The producer runs before the clock starts.
# Environment: PAGES (10000), RUNS (3), CONC (64), WORK (/tmp/corun-queue-bench).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
shared=$(sh "$top/bench/find_shared.sh") || exit 2
build=${1:-$top/out/dev}
corun="$build/apps/corun"
pages=${PAGES:-10000}
runs=${RUNS:-3}
conc=${CONC:-64}
work=${WORK:-/tmp/corun-queue-bench}
python=/usr/bin/python3
. "$top/bench/lib.sh"
corpus=$(bench_corpus "$work" "$pages")
bench_nginx_start "$corpus"
rport=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
rdir=$(mktemp -d)
redis-server --port "$rport" --bind 127.0.0.1 --save '' --appendonly no --dir "$rdir" \
  --daemonize no --logfile "$rdir/redis.log" &
rpid=$!
trap 'kill $rpid 2>/dev/null; bench_nginx_stop "$corpus"; rm -rf "$rdir"' EXIT
until redis-cli -p "$rport" ping >/dev/null 2>&1; do sleep 0.1; done
now() { "$python" -c 'import time; print(time.monotonic())'; }
cpu() { awk '{print ($14 + $15) / 100}' "/proc/$rpid/stat"; }
# Round trips: the scripts and commands the workers sent (EVALSHA, EVAL, SCRIPT, ...),
# counted by the server; the commands those scripts ran are not round trips.
cmds() { redis-cli -p "$rport" info commandstats | awk -F'[=,:]' '/^cmdstat_(evalsha|eval|script|hgetall|type|xlen|hmget|ping|client)/ {n += $3} END {print n+0}'; }
for r in $(seq 1 "$runs"); do
  rm -rf "$work/plain"
  t0=$(now)
  "$corun" fetch -q -c "$conc" --base "$base" -i "$corpus/urls.txt" --out "$work/plain" || true
  t1=$(now)
  echo "plain $(echo "$pages / ($t1 - $t0)" | bc -l)" >> "$work/samples.txt"
  for workers in 1 2; do
    name="b$r-$workers"
    "$corun" fetch -q --queue "redis://127.0.0.1:$rport/$name" --enqueue "$corpus/urls.txt" --base "$base"
    rm -rf "$work/q"
    c0=$(cpu); k0=$(cmds); t0=$(now)
    pids=""
    for w in $(seq 1 "$workers"); do
      "$corun" fetch -q --queue "redis://127.0.0.1:$rport/$name" --out "$work/q" -c $((conc / workers)) &
      pids="$pids $!"
    done
    for p in $pids; do wait "$p"; done
    t1=$(now); c1=$(cpu); k1=$(cmds)
    echo "queue$workers $(echo "$pages / ($t1 - $t0)" | bc -l) $(echo "($c1 - $c0) / ($t1 - $t0)" | bc -l) $(echo "($k1 - $k0) / $pages" | bc -l)" >> "$work/samples.txt"
  done
done
"$python" - "$work/samples.txt" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    k, *v = line.split()
    rows.setdefault(k, []).append([float(x) for x in v])
plain = statistics.median(r[0] for r in rows["plain"])
print("| run | pages/s (median) | vs plain | Redis CPU (cores) | Redis round trips per URL |")
print("|---|---|---|---|---|")
print(f"| plain corun fetch | {plain:.0f} | 1.00 | | |")
for k in ("queue1", "queue2"):
    if k in rows:
        m = statistics.median(r[0] for r in rows[k])
        cpu = statistics.median(r[1] for r in rows[k])
        cmd = statistics.median(r[2] for r in rows[k])
        print(f"| {k[-1]} queue worker(s) | {m:.0f} | {m / plain:.2f} | {cpu:.2f} | {cmd:.2f} |")
PY
rm -f "$work/samples.txt"
