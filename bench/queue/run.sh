#!/bin/sh
# bench/queue/run.sh [N] [BUILD_DIR]: Redis memory per URL of the shared crawl
# (waiting URLs and dedup) and the producer's rate, on a redis-server started
# here (no persistence) on a free loopback port and killed by pid afterwards.
set -eu
n=${1:-1000000}
build=${2:-out/dev}
python=/usr/bin/python3
port=$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
dir=$(mktemp -d)
redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$dir" \
  --daemonize no --logfile "$dir/redis.log" &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$dir"' EXIT
i=0
until redis-cli -p "$port" ping >/dev/null 2>&1; do
  i=$((i + 1)); [ "$i" -lt 100 ] || { echo "redis-server did not start" >&2; exit 1; }; sleep 0.1
done
"$build/bench/queue/queue_memory" "redis://127.0.0.1:$port" producer "$n"
"$build/bench/queue/queue_memory" "redis://127.0.0.1:$port" dedup "$n"
"$build/bench/queue/queue_memory" "redis://127.0.0.1:$port" dedup $((n * 10))
