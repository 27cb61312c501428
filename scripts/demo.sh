#!/usr/bin/env bash
# Installs what is needed, builds corun (Release) and runs the main job:
# `corun fetch --demo`, which serves built-in GB18030 sample pages on loopback
# with corun's own server and fetches them into ./out/demo.
# Extra arguments go to `corun fetch --demo` (e.g. scripts/demo.sh -c 16).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
bash scripts/install-deps.sh
build="$root/out/build"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DCORUN_BUILD_TESTS=OFF \
  -DCORUN_BUILD_BENCH=OFF >/dev/null
cmake --build "$build" -j"${JOBS:-2}" --target corun_app
exec "$build/apps/corun" fetch --demo --out "$root/out/demo" "$@"
