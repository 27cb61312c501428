#!/usr/bin/env bash
# Installs every Debian package corun needs to build, test and benchmark.
# Idempotent; run as root (or with sudo available). Does nothing when all are present.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake ninja-build pkg-config git
  # libraries
  libuv1-dev libcurl4-openssl-dev libidn2-dev libssl-dev libfmt-dev libcli11-dev nlohmann-json3-dev
  libuchardet-dev libicu-dev libgtest-dev libgmock-dev libbenchmark-dev libhiredis-dev
  libjemalloc-dev  # the corun executable's allocator
  # python binding and its test environments (Debian's /usr/bin/python3)
  python3 python3-dev pybind11-dev python3-aiohttp python3-uvloop
  python3-ipykernel python3-nbclient python3-nbformat python3-matplotlib python3-pytest
  # integration tests and benchmarks
  nginx-light curl openssl wrk procps time redis-server wget2 aria2
  # tooling: sanitizers, fuzzing, formatting, stacks of hung tests
  clang libclang-rt-14-dev clang-format clang-tidy gdb
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# nginx-light's package starts a system nginx on port 80; corun's tests start their own.
if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now nginx >/dev/null 2>&1 || true; fi
$SUDO service nginx stop >/dev/null 2>&1 || true
# redis-server's package starts a system redis on 6379 likewise; the tests start their own
# on a free port and never touch the system service.
if command -v systemctl >/dev/null 2>&1; then $SUDO systemctl disable --now redis-server >/dev/null 2>&1 || true; fi
$SUDO service redis-server stop >/dev/null 2>&1 || true
